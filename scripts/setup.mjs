#!/usr/bin/env node
// Makes a fresh machine ready to run OSAPI and its tests: npm packages, the
// Debian nats-server package, the compiled dist/ and the web console in
// dist/ui, and for the tests Debian's chromium. Runs before `npm start` and
// `npm test`, so the README's two commands work on a clean checkout.
// Uses nothing outside Node's standard library: it runs before npm packages exist.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stderr.write(`setup: ${line}\n`);

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    say(`${what} failed (${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}).`);
    process.exit(1);
  }
}

function onPath(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

// 1. npm packages: install when node_modules was not installed from this very
// lock file. A digest of the lock file, written after the install, says so;
// file times do not (a fresh clone or checkout gives the lock file a new one).
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.osapi-lock-digest');
const lockDigest = existsSync(lock)
  ? createHash('sha256').update(readFileSync(lock)).digest('hex')
  : 'no-lock';
const installed = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : null;
if (installed !== lockDigest) {
  say('installing npm packages');
  run(
    'npm',
    existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'],
    'npm install',
  );
  writeFileSync(stamp, `${lockDigest}\n`);
}

// 2. nats-server from Debian when it is not on PATH.
if (!onPath('nats-server') && !existsSync('/usr/sbin/nats-server')) {
  if (!onPath('apt-get')) {
    say(
      'nats-server is not installed and apt-get is not available. Install the Debian package "nats-server" (2.9.x) or put nats-server on PATH, then run this again.',
    );
    process.exit(1);
  }
  const sudo = process.getuid?.() === 0 ? [] : onPath('sudo') ? ['sudo', '-n'] : null;
  if (sudo === null) {
    say(
      'nats-server is not installed and this user cannot run apt-get. Run: sudo apt-get install nats-server',
    );
    process.exit(1);
  }
  say('installing the Debian package nats-server');
  const [cmd, ...pre] = sudo.length ? sudo : ['apt-get'];
  const base = sudo.length ? [...pre, 'apt-get'] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'nats-server'],
  ]) {
    const r = spawnSync(cmd, [...base, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) {
      say(
        'could not install the Debian package "nats-server" with apt-get. Install it by hand (apt-get install nats-server), then run this again.',
      );
      process.exit(1);
    }
  }
}

// 2b. ping (Debian's iputils-ping) for the network ping operation, when it is
// missing. Not fatal: only that operation needs it, and without it its result
// says to install the package.
if (!onPath('ping') && onPath('apt-get')) {
  const asRoot = process.getuid?.() === 0;
  if (asRoot || onPath('sudo')) {
    say('installing the Debian package iputils-ping (for network ping)');
    const [cmd, ...pre] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const ok = [
      ['update', '-qq'],
      ['install', '-y', '-qq', 'iputils-ping'],
    ].every(
      (args) =>
        spawnSync(cmd, [...pre, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env })
          .status === 0,
    );
    if (!ok) say('could not install iputils-ping; network ping will say so until it is installed.');
  } else {
    say('ping is not installed; network ping needs it: sudo apt-get install iputils-ping');
  }
}

// 3. Compile src/ to dist/ when dist is missing or older than any source file.
const dist = join(root, 'dist', 'cli', 'main.js');
const bundle = join(root, 'dist', 'cli-bundle', 'osapi.mjs');
if (!existsSync(dist) || newestMtime(join(root, 'src')) > statSync(dist).mtimeMs) {
  say('compiling TypeScript');
  try {
    execFileSync(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: root, stdio: 'inherit' },
    );
  } catch {
    say('compiling failed; see the errors above.');
    process.exit(1);
  }
}

// 3b. The agent's posix_spawn module (scripts/build-native.mjs says why),
// when it is missing or older than its source. Not fatal: without a C
// compiler agents start commands with Node's spawn, only slower.
{
  const { buildNative, nativeStale } = await import('./build-native.mjs');
  if (nativeStale()) {
    say("building the agent's posix_spawn module");
    const why = buildNative();
    if (why !== null) say(`not built (${why}); agents will start commands with Node's spawn`);
  }
}

// 4. Bundle the compiled CLI (scripts/bundle-cli.mjs says why). bin/osapi
// uses it while it is not older than the compiled modules.
if (!existsSync(bundle) || statSync(dist).mtimeMs > statSync(bundle).mtimeMs) {
  say('bundling the CLI');
  try {
    const { bundleCli } = await import('./bundle-cli.mjs');
    await bundleCli();
  } catch (err) {
    // Not fatal: bin/osapi runs the compiled modules without it, only slower to start.
    say(
      `bundling failed (${err instanceof Error ? err.message : String(err)}); osapi will start from dist/ modules`,
    );
  }
}

// 5. The web console (src/ui → dist/ui), served by the API server at /ui/,
// when it is missing or older than any source file (it uses the SDK's types).
const consolePage = join(root, 'dist', 'ui', 'index.html');
if (!existsSync(consolePage) || newestMtime(join(root, 'src')) > statSync(consolePage).mtimeMs) {
  say('building the web console');
  try {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    say('building the web console failed; see the errors above.');
    process.exit(1);
  }
}

// 6. For the tests only (`npm test` runs this as pretest): Debian's chromium,
// which the console's browser tests drive. Starting OSAPI never needs it.
const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
if (process.env.npm_lifecycle_event === 'pretest' && !existsSync(chromium)) {
  const asRoot = process.getuid?.() === 0;
  if (!onPath('apt-get') || !(asRoot || onPath('sudo'))) {
    say(
      `the web console's browser tests need Chromium and ${chromium} is missing: install the Debian package "chromium" (sudo apt-get install chromium), or set CHROMIUM_PATH.`,
    );
    process.exit(1);
  }
  say('installing the Debian package chromium (for the web console tests)');
  const [cmd, ...pre] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ok = [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', 'chromium'],
  ].every(
    (args) =>
      spawnSync(cmd, [...pre, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env }).status ===
      0,
  );
  if (!ok || !existsSync(chromium)) {
    say(
      'could not install the Debian package "chromium" with apt-get. Install it by hand (apt-get install chromium), then run the tests again.',
    );
    process.exit(1);
  }
}

// 7. For the tests only (`npm test` runs this as pretest): Debian's docker.io
// (dockerd, containerd, runc) and busybox-static, from which the docker tests
// start a daemon of their own on a temp socket and build their image (no
// registry is needed). Starting OSAPI never needs them. Not fatal: where they
// cannot be installed, the tests that need a daemon are skipped and say why.
if (process.env.npm_lifecycle_event === 'pretest') installDockerForTests();

function installDockerForTests() {
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].some((p) => existsSync(p));
  const staticBusybox = existsSync('/bin/busybox') && busyboxIsStatic('/bin/busybox');
  if (dockerd && staticBusybox) return;
  const asRoot = process.getuid?.() === 0;
  const wanted = [...(dockerd ? [] : ['docker.io']), ...(staticBusybox ? [] : ['busybox-static'])];
  if (onPath('apt-get') && (asRoot || onPath('sudo'))) {
    say(`installing the Debian packages ${wanted.join(' and ')} (for the docker tests)`);
    const [cmd, ...pre] = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const ok = [
      ['update', '-qq'],
      ['install', '-y', '-qq', ...wanted],
    ].every(
      (args) =>
        spawnSync(cmd, [...pre, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env })
          .status === 0,
    );
    if (!ok) say(`could not install ${wanted.join(' and ')}; the docker tests will be skipped.`);
  } else {
    say(
      `the docker tests need ${wanted.join(' and ')} (sudo apt-get install ${wanted.join(' ')}); without them they are skipped.`,
    );
  }
}

/** Whether an ELF binary has no program interpreter (PT_INTERP): it runs alone in an empty image. */
function busyboxIsStatic(path) {
  const elf = readFileSync(path);
  if (elf.toString('latin1', 1, 4) !== 'ELF' || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) if (elf.readUInt32LE(phoff + i * size) === 3) return false;
  return true;
}
