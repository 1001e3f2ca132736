#!/usr/bin/env node
// Builds the web console (src/ui) into dist/ui: one script and one style
// sheet with content hashes in their names, and the page that loads them.
// Everything the console needs is in those files: no CDN, no fonts from
// elsewhere. Run by setup after the TypeScript build; tests call buildConsole
// with their own directory.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * @param {{ outDir?: string }} [opts]
 * @returns {Promise<{ outDir: string, files: string[] }>}
 */
export async function buildConsole(opts = {}) {
  const outDir = opts.outDir ?? join(root, 'dist', 'ui');
  const esbuild = await import('esbuild');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: 'src/ui/main.tsx' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years: native dialog, fetch streams, CSS nesting not assumed.
    target: ['es2022', 'chrome111', 'firefox115', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: 'src/ui/tsconfig.json',
    outdir: outDir,
    entryNames: '[name]-[hash]',
    minify: true,
    legalComments: 'none',
    // The SDK's audit export streams into a Node stream, imported lazily; the console never calls it.
    external: ['node:*'],
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`the console build made ${outputs.join(', ')}`);
  const page = readFileSync(join(root, 'src', 'ui', 'index.html'), 'utf8')
    .replace('%APP_JS%', script)
    .replace('%APP_CSS%', style);
  writeFileSync(join(outDir, 'index.html'), page);
  return { outDir, files: ['index.html', ...outputs] };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `--out DIR` builds elsewhere (the browser tests build their own copy).
  const out = process.argv.indexOf('--out');
  buildConsole(out > 0 && process.argv[out + 1] ? { outDir: process.argv[out + 1] } : {}).then(
    ({ outDir, files }) =>
      process.stderr.write(`built the console: ${outDir} (${files.join(', ')})\n`),
    (err) => {
      process.stderr.write(
        `building the console failed: ${err instanceof Error ? err.message : err}\n`,
      );
      process.exit(1);
    },
  );
}
