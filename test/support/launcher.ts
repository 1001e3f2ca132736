// How bin/'s commands start Node: the tests and benchmarks that run them as
// installed run them through process.execPath with the same options.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * One of bin/'s commands with the node options its first line gives
 * (`#!/usr/bin/env -S node ...`): the processes here run under
 * process.execPath, and without them would not run, nor use memory, as an
 * installed osapi does.
 */
export function launcher(name: string): { file: string; nodeOptions: string[] } {
  const file = join(ROOT, 'bin', name);
  const nodeOptions = (
    /^#!.*\bnode((?: +-\S+)*)\s*$/m.exec(readFileSync(file, 'utf8').split('\n')[0] ?? '')?.[1] ?? ''
  )
    .trim()
    .split(/ +/)
    .filter(Boolean);
  return { file, nodeOptions };
}
