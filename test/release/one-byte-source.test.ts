// The bundles' characters beyond Latin-1 (scripts/bundle-cli.mjs
// oneByteSource): escaped in comments, where it changes nothing; a file with
// one anywhere else is left as it is.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without declarations.
import { oneByteSource } from '../../scripts/bundle-cli.mjs';
import { tempDir } from '../api/helpers.js';

describe('oneByteSource', () => {
  const dir = tempDir('one-byte');
  afterAll(() => dir.remove());

  function rewritten(source: string): string {
    const file = join(dir.path, 'chunk.mjs');
    writeFileSync(file, source);
    oneByteSource(file);
    return readFileSync(file, 'utf8');
  }

  it('escapes the characters of block and line comments', () => {
    const out = rewritten('/** a \u2014 b */\n  // c \u2014 d\nconst e = 1;\n');
    expect(out).toBe('/** a \\u2014 b */\n  // c \\u2014 d\nconst e = 1;\n');
    expect(/[\u0100-\uffff]/.test(out)).toBe(false);
  });

  it('leaves a file as it is when one is outside a comment, where an escape could change it', () => {
    for (const source of [
      '// x \u2014\nconst raw = String.raw`a\u2014b`;\n',
      '/* x \u2014 */\nconst re = /\\\u2014/;\n',
      '// a line separator \u2028 ends this comment\n',
    ]) {
      expect(rewritten(source)).toBe(source);
    }
  });
});
