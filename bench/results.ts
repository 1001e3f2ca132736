// bench/RESULTS.md holds one section per benchmark, each between its own
// markers, so that running one benchmark rewrites its section and keeps the
// others' numbers as they were.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_PATH = join(import.meta.dirname, 'RESULTS.md');

/** Puts `lines` between `<!-- bench:NAME:begin -->` and its end marker, adding the section at the end when new. */
export function writeSection(name: string, lines: string[]): void {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${begin}\n${lines.join('\n')}\n${end}`;
  const text = existsSync(RESULTS_PATH) ? readFileSync(RESULTS_PATH, 'utf8') : '';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  let next: string;
  if (a >= 0 && b > a) next = `${text.slice(0, a)}${block}${text.slice(b + end.length)}`;
  else next = `${text.trimEnd()}${text.trim() ? '\n\n' : ''}${block}\n`;
  writeFileSync(RESULTS_PATH, next);
}
