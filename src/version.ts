// The one source of the version: package.json, read once (from inside the
// single executable when this is one).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './package-root.js';
import { executableAsset, PACKAGE_ASSET } from './single-executable.js';

const manifest = executableAsset(PACKAGE_ASSET) ?? readFileSync(join(PACKAGE_ROOT, 'package.json'));
const pkg = JSON.parse(manifest.toString('utf8')) as { version: string };

export const VERSION: string = pkg.version;
