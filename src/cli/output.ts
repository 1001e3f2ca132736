// Tables for people: long cells cut short (the whole output is in --json).
import Table from 'cli-table3';
import type { CommandResponse } from '../sdk/client.js';

const CELL_MAX = 60;

export function shorten(text: string, max = CELL_MAX): string {
  const one = text.replace(/\r?\n$/, '');
  const lines = one.split('\n');
  let s = lines.length > 3 ? `${lines.slice(0, 3).join('\n')}\n…` : one;
  if (s.length > max) s = `${s.slice(0, max - 1)}…`;
  return s;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 2)}s` : `${ms}ms`;
}

export function commandTable(body: CommandResponse): string {
  const table = new Table({
    head: ['HOSTNAME', 'CHANGED', 'STDOUT', 'STDERR', 'EXIT CODE', 'DURATION'],
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of body.results) {
    const stderr = r.error ? [r.stderr, `error: ${r.error}`].filter(Boolean).join('\n') : r.stderr;
    table.push([
      r.hostname,
      String(r.changed),
      shorten(r.stdout),
      shorten(stderr),
      String(r.exit_code),
      formatMs(r.duration_ms),
    ]);
  }
  return `Job ID: ${body.job_id}\n${table.toString()}\n`;
}
