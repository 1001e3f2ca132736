// Reading an operation's answer as the console shows it: the result's
// columns, the summary line, the columns of a nested list. Pure: no DOM.
import type { OperationAnswerBody } from '../contract/answers.js';
import { answerFields, type OperationDeclaration } from '../contract/operations.js';
import { plural, tally } from './format.js';

/** The result's fields the table shows beside the host, its status, changed and error. */
export function resultColumns(decl: OperationDeclaration): string[] {
  return answerFields(decl);
}

/** "3 hosts: 2 ok, 1 skipped; 1 changed". */
export function resultSummary(decl: OperationDeclaration, body: OperationAnswerBody): string {
  const items = body.results;
  const head = `${plural(items.length, 'host')}: ${tally(items.map((r) => r.status))}`;
  if (decl.answer !== 'change') return head;
  const changed = items.filter((r) => r.changed === true).length;
  return `${head}; ${changed} changed`;
}

/** The columns of a list of objects: every key, in order of first appearance. */
export function keysOf(rows: readonly unknown[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) {
    if (r && typeof r === 'object' && !Array.isArray(r))
      for (const k of Object.keys(r)) keys.add(k);
  }
  return [...keys];
}
