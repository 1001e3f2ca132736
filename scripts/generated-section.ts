// Rewrites the generated part of a docs file: what stands between
// `<!-- NAME:begin -->` and `<!-- NAME:end -->` becomes `content`. The test of
// each such part reads the same markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function rewriteSection(doc: string, name: string, content: string): void {
  const path = join(import.meta.dirname, '..', 'docs', doc);
  const text = readFileSync(path, 'utf8');
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${path} lacks the ${begin} / ${end} markers`);
  writeFileSync(path, `${text.slice(0, a + begin.length)}\n${content}\n${text.slice(b)}`);
}
