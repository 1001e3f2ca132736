// Where the installed package lives, for files that ship beside the code
// (package.json, built assets). Found by walking up from this module, so it is
// the same whether the code runs as compiled modules (dist/...) or as the one
// bundled files (dist/cli-bundle/), whose modules share a few locations.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isSingleExecutable } from './single-executable.js';

const NAME = 'osapi';

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === NAME) {
          return dir;
        }
      } catch {
        // not ours, or unreadable: keep looking
      }
    }
    if (dirname(dir) === dir) {
      throw new Error(`cannot find the ${NAME} package.json above ${from}`);
    }
  }
}

/**
 * The single executable has no package around it: its files are assets
 * (single-executable.ts), and the directory it sits in stands for the root.
 */
export const PACKAGE_ROOT: string = isSingleExecutable()
  ? dirname(process.execPath)
  : findRoot(dirname(fileURLToPath(import.meta.url)));
