// Rewrites the generated key table in docs/configuration.md from the schema.
//   node --import tsx scripts/config-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigReference } from '../src/config/reference.js';

const path = join(import.meta.dirname, '..', 'docs', 'configuration.md');
const text = readFileSync(path, 'utf8');
const begin = '<!-- config-keys:begin -->';
const end = '<!-- config-keys:end -->';
const a = text.indexOf(begin);
const b = text.indexOf(end);
if (a < 0 || b < a) throw new Error(`${path} lacks the ${begin} / ${end} markers`);
writeFileSync(
  path,
  `${text.slice(0, a + begin.length)}\n${renderConfigReference()}\n${text.slice(b)}`,
);
