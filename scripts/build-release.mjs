#!/usr/bin/env node
// Builds the single executable of osapi for this machine's platform:
// dist/release/osapi-<version>-<platform>-<arch> and its .sha256. It is a
// copy of the Node binary running this script with the whole CLI inside
// (Node's single executable applications): the host it is copied to needs
// neither Node nor npm packages, only nats-server where it runs one.
//
// Node runs one CommonJS script inside an executable, so the compiled CLI
// (dist/, from `npm run build`) is bundled into one such file; what the code
// otherwise reads beside itself (package.json, the console in dist/ui) goes
// in as assets (src/single-executable.ts reads them). The bundle's compiled
// form (code cache) goes in too, so that a start does not parse it again.
//
// `--out DIR` builds into DIR instead (the tests build their own copy);
// `--no-code-cache` leaves the code cache out (bench/startup.ts compares).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { target as nativeTarget } from './build-native.mjs';
import { oneByteSource } from './bundle-cli.mjs';

const root = join(fileURLToPath(import.meta.url), '..', '..');
// The fuse Node's binary carries for single executable applications: postject flips it.
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

// Packages a dependency tries to load and does without (`debug` asks for
// supports-color in a try, for more colours): not installed, so left as a
// require() of a file, which an executable's require cannot load and warns
// about on every start. Bundled as absent instead.
const OPTIONAL_MODULES = /^supports-color$/;

/** @type {import('esbuild').Plugin} */
const withoutOptionalModules = {
  name: 'without-optional-modules',
  setup(build) {
    build.onResolve({ filter: OPTIONAL_MODULES }, (args) => ({
      path: args.path,
      namespace: 'absent',
    }));
    build.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({
      contents: 'module.exports = false;',
      loader: 'js',
    }));
  },
};

/**
 * Runs a build tool, showing its output only when it fails (postject warns
 * about note sections it does not know, harmlessly, on every run).
 */
function quietly(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new Error(
      `${[cmd, ...args].join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`,
    );
  }
}

/**
 * @param {{ outDir?: string, codeCache?: boolean }} [opts]
 * @returns {Promise<{ executable: string, checksum: string, sha256: string }>}
 */
export async function buildRelease(opts = {}) {
  const outDir = opts.outDir ?? join(root, 'dist', 'release');
  const cli = join(root, 'dist', 'cli', 'main.js');
  const consoleDir = join(root, 'dist', 'ui');
  if (!existsSync(cli) || !existsSync(join(consoleDir, 'index.html'))) {
    throw new Error('dist/ is not built: run `npm run build` first.');
  }
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const work = join(outDir, 'work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // 1. One CommonJS file. import.meta.url (ours in package-root.ts, and any a
  // dependency has) becomes the file's own URL, which CommonJS knows as __filename.
  const bundle = join(work, 'osapi.cjs');
  const esbuild = await import('esbuild');
  await esbuild.build({
    stdin: {
      contents: [
        "import { main } from './dist/cli/main.js';",
        // As bin/osapi: a reader that stopped reading ends the command, not an error.
        "process.stdout.on('error', (err) => {",
        "  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);",
        '  throw err;',
        '});',
        'main(process.argv).then((code) => { process.exitCode = code; });',
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'osapi-executable.js',
      loader: 'js',
    },
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { 'import.meta.url': 'osapiModuleUrl' },
    banner: {
      js: "var osapiModuleUrl = require('node:url').pathToFileURL(typeof __filename === 'string' ? __filename : process.execPath).href;",
    },
    plugins: [withoutOptionalModules],
    legalComments: 'none',
    logLevel: 'warning',
  });
  // One character beyond Latin-1 would make V8 hold the whole file's source at two bytes a character.
  oneByteSource(bundle);

  // 2. The assets and the blob Node makes of them with the bundle.
  const consoleFiles = readdirSync(consoleDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
  const consoleIndex = join(work, 'ui-files');
  writeFileSync(consoleIndex, `${consoleFiles.join('\n')}\n`);
  const assets = {
    'package.json': join(root, 'package.json'),
    // The agent's posix_spawn module, where this machine built it.
    ...(existsSync(nativeTarget) ? { 'native/direct-spawn.node': nativeTarget } : {}),
    'ui/files': consoleIndex,
    ...Object.fromEntries(consoleFiles.map((name) => [`ui/${name}`, join(consoleDir, name)])),
  };
  const blob = join(work, 'osapi.blob');
  const seaConfig = join(work, 'sea-config.json');
  writeFileSync(
    seaConfig,
    `${JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: opts.codeCache ?? true,
        assets,
      },
      null,
      2,
    )}\n`,
  );
  quietly(process.execPath, ['--experimental-sea-config', seaConfig], work);

  // 3. A copy of this Node with the blob injected.
  const name = `osapi-${version}-${process.platform}-${process.arch}`;
  const executable = join(outDir, name);
  rmSync(executable, { force: true });
  copyFileSync(process.execPath, executable);
  chmodSync(executable, 0o755);
  quietly(
    process.execPath,
    [
      join(root, 'node_modules', 'postject', 'dist', 'cli.js'),
      executable,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      SEA_FUSE,
    ],
    work,
  );
  const sha256 = createHash('sha256').update(readFileSync(executable)).digest('hex');
  const checksum = `${executable}.sha256`;
  // The format sha256sum -c reads, beside the file.
  writeFileSync(checksum, `${sha256}  ${name}\n`);
  rmSync(work, { recursive: true, force: true });
  return { executable, checksum, sha256 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv.indexOf('--out');
  buildRelease({
    ...(out > 0 && process.argv[out + 1] ? { outDir: process.argv[out + 1] } : {}),
    codeCache: !process.argv.includes('--no-code-cache'),
  }).then(
    ({ executable, sha256 }) => process.stderr.write(`built ${executable}\nsha256 ${sha256}\n`),
    (err) => {
      process.stderr.write(
        `building the executable failed: ${err instanceof Error ? err.message : err}\n`,
      );
      process.exit(1);
    },
  );
}
