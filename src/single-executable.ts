// When osapi runs as the single executable (`npm run build:release`), there
// is no package directory beside the code: the files that otherwise ship in it
// (package.json for the version, the web console's dist/ui, the agent's
// posix_spawn module from dist/native) are assets inside
// the executable. scripts/build-release.mjs puts them there under these keys.
// getBuiltinModule rather than an import: node:sea is the same module in the
// compiled ES modules, the bundle and the executable, and is only asked for here.
import type * as Sea from 'node:sea';

const sea: typeof Sea | undefined = process.getBuiltinModule?.('node:sea');

/** The key of the console's file list (one name a line) among the assets. */
export const CONSOLE_INDEX_ASSET = 'ui/files';
/** The key of the package's package.json among the assets. */
export const PACKAGE_ASSET = 'package.json';
/** The key of the agent's posix_spawn module (dist/native/direct-spawn.node) among the assets. */
export const NATIVE_SPAWN_ASSET = 'native/direct-spawn.node';

/** True when this process is the single executable. */
export function isSingleExecutable(): boolean {
  return sea?.isSea() === true;
}

/** An asset of the single executable, or null when this is not one or it has no such asset. */
export function executableAsset(key: string): Buffer | null {
  if (!sea?.isSea()) return null;
  try {
    return Buffer.from(sea.getAsset(key));
  } catch {
    return null;
  }
}
