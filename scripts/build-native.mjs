#!/usr/bin/env node
// Compiles native/direct-spawn.c into dist/native/direct-spawn.node: starting
// a command through posix_spawn instead of Node's fork (the C file says why).
// Optional: without a C compiler (or on a libc without what it needs) nothing
// is built, and the agent starts commands with Node's spawn, only slower.
// Needs only a compiler: the Node-API headers come from the npm package
// node-api-headers. `CC` names another compiler.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'direct-spawn.c');
export const target = join(root, 'dist', 'native', 'direct-spawn.node');

/** Whether the built module is missing or older than its source. */
export function nativeStale() {
  return !existsSync(target) || statSync(source).mtimeMs > statSync(target).mtimeMs;
}

/** Builds it; resolves to null when built, else why not (never throws). */
export function buildNative() {
  if (process.platform !== 'linux') return 'not Linux';
  const headers = join(root, 'node_modules', 'node-api-headers', 'include');
  if (!existsSync(join(headers, 'node_api.h')))
    return 'the npm package node-api-headers is missing';
  const cc = process.env.CC || 'cc';
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  const r = spawnSync(
    cc,
    ['-O2', '-Wall', '-shared', '-fPIC', '-I', headers, '-o', temp, source, '-lpthread'],
    { cwd: root, encoding: 'utf8' },
  );
  if (r.error || r.status !== 0) {
    rmSync(temp, { force: true });
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' ');
    return `${cc} failed: ${why}`;
  }
  renameSync(temp, target);
  return null;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const why = buildNative();
  process.stderr.write(
    why === null
      ? 'build-native: built dist/native/direct-spawn.node\n'
      : `build-native: not built (${why}); agents start commands with Node's spawn\n`,
  );
}
