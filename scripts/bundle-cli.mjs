#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js) into dist/cli-bundle: loading
// a few modules instead of hundreds is most of a cold `osapi` start
// (bench/RESULTS.md). Split at the dynamic imports, so that a client command
// does not parse the API server's and the agent's code (about half of the
// whole). bin/osapi uses it while it is not older than the compiled modules.
// Run by setup, and by `npm pack` (prepack) so the package carries it.
import { rmSync } from 'node:fs';
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
  return bundleDir;
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
