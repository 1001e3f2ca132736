import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { renderCliReference } from '../../src/cli/reference.js';

const doc = () =>
  readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'cli-reference.md'), 'utf8');

describe('docs/cli-reference.md', () => {
  it('lists every command exactly as the CLI defines it (regenerate: node --import tsx scripts/cli-docs.ts)', () => {
    const text = doc();
    const begin = '<!-- cli-commands:begin -->\n';
    const end = '\n<!-- cli-commands:end -->';
    const generated = text.slice(text.indexOf(begin) + begin.length, text.indexOf(end));
    // The whole generated part, so a removed command shows as a difference too.
    expect(generated).toBe(renderCliReference(buildProgram()));
  });

  it('has a section for every command, with its options', () => {
    const text = doc();
    const names: string[] = [];
    const walk = (c: ReturnType<typeof buildProgram>, prefix: string) => {
      const name = prefix ? `${prefix} ${c.name()}` : c.name();
      names.push(name);
      for (const sub of c.commands) walk(sub, name);
    };
    walk(buildProgram(), '');
    expect(names).toContain('osapi client job run');
    for (const n of names) expect(text).toContain(`## \`${n}\``);
    expect(text).toContain('| `-t, --timeout <time>` | give up after this long');
    expect(text).toContain('| `-T, --target <target>` | preview a target');
  });

  it('describes every command, groups of commands included (their help lists them)', () => {
    const bare: string[] = [];
    const walk = (c: ReturnType<typeof buildProgram>, prefix: string) => {
      const name = prefix ? `${prefix} ${c.name()}` : c.name();
      if (c.description().trim() === '' && c.name() !== 'help') bare.push(name);
      for (const sub of c.commands) walk(sub, name);
    };
    walk(buildProgram(), '');
    expect(bare).toEqual([]);
  });
});
