// Rewrites the generated part of docs/cli-reference.md from the commander
// program, as scripts/config-docs.ts does for the config keys.
//   node --import tsx scripts/cli-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../src/cli/main.js';
import { renderCliReference } from '../src/cli/reference.js';

const path = join(import.meta.dirname, '..', 'docs', 'cli-reference.md');
const text = readFileSync(path, 'utf8');
const begin = '<!-- cli-commands:begin -->';
const end = '<!-- cli-commands:end -->';
const a = text.indexOf(begin);
const b = text.indexOf(end);
if (a < 0 || b < a) throw new Error(`${path} lacks the ${begin} / ${end} markers`);
writeFileSync(
  path,
  `${text.slice(0, a + begin.length)}\n${renderCliReference(buildProgram())}\n${text.slice(b)}`,
);
