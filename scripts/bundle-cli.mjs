#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) into dist/cli-bundle: loading
// a few modules instead of hundreds is most of a cold `osapi` start
// (bench/RESULTS.md). Split at the dynamic imports, so that a client command
// does not parse the API server's and the agent's code (about half of the
// whole). bin/osapi uses it while it is not older than the compiled modules.
// Run by setup, and by `npm pack` (prepack) so the package carries it.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');

export async function bundleCli() {
  const bundleDir = join(root, 'dist', 'cli-bundle');
  const esbuild = await import('esbuild');
  // Chunks of an earlier build would otherwise pile up beside the new ones.
  rmSync(bundleDir, { recursive: true, force: true });
  rmSync(join(root, 'dist', 'osapi.mjs'), { force: true });
  await esbuild.build({
    entryPoints: { osapi: join(root, 'dist', 'cli', 'main.js') },
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Some dependencies are CommonJS and call require(): give them one.
    banner: {
      js: "import { createRequire as osapiCreateRequire } from 'node:module'; const require = osapiCreateRequire(import.meta.url);",
    },
  });
  oneByteSources(bundleDir);
  return bundleDir;
}

/**
 * V8 keeps a module's source for its life, one byte a character while every
 * character is Latin-1 and two bytes a character otherwise: one dash in a
 * dependency's comment doubled the NATS client's 290 KB chunk in every
 * process. esbuild escapes strings and names already; what it leaves beyond
 * Latin-1 in a comment becomes a `\u` escape, which changes nothing there.
 * Anywhere else (a tagged template's raw text, after a backslash) an escape
 * could change the program: such a file is left as it is.
 */
export function oneByteSources(dir) {
  for (const entry of readdirSync(dir, { recursive: true })) {
    const file = join(dir, String(entry));
    if (file.endsWith('.mjs')) oneByteSource(file);
  }
}

/**
 * One file's characters beyond Latin-1, in comments, as escapes (see
 * oneByteSources). A file with one elsewhere is left as it is, and named.
 */
export function oneByteSource(file) {
  const text = readFileSync(file, 'utf8');
  let unsafe = -1;
  const escaped = text.replace(/[\u0100-\uffff]/g, (c, at) => {
    // U+2028 and U+2029 end a line comment: escaped, they would not.
    if (c === '\u2028' || c === '\u2029' || text[at - 1] === '\\' || !inComment(text, at)) {
      if (unsafe < 0) unsafe = at;
      return c;
    }
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  if (unsafe >= 0) {
    const line = text.slice(0, unsafe).split('\n').length;
    process.stderr.write(
      `${file}:${line}: a character beyond Latin-1 outside a comment, left as it is: V8 holds this file at two bytes a character\n`,
    );
    return;
  }
  if (escaped !== text) writeFileSync(file, escaped);
}

/** Whether `at` is inside a block comment, or a line comment that starts its line. */
function inComment(text, at) {
  if (text.lastIndexOf('/*', at) > text.lastIndexOf('*/', at)) return true;
  const lineStart = text.lastIndexOf('\n', at) + 1;
  return /^\s*\/\//.test(text.slice(lineStart, at));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  bundleCli().then(
    (dir) => process.stderr.write(`bundled the CLI: ${dir}\n`),
    (err) => {
      process.stderr.write(
        `bundling the CLI failed: ${err instanceof Error ? err.message : err}\n`,
      );
      process.exit(1);
    },
  );
}
