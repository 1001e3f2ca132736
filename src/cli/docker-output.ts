// Tables for people of the docker answers: a row per container of each host,
// and an exec's output per host as a command's is shown; the hosts that could
// not answer with their error (--json has all).
import Table from 'cli-table3';
import type { DockerExecResponse, DockerListResponse } from '../sdk/client.js';
import { escapeCell, escapeLine } from './escape.js';
import { row, shorten } from './output.js';

function newTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, wordWrap: false });
}

/** The hosts without a result: their status and why; '' when every host answered. */
function problems(results: ReadonlyArray<{ hostname: string; status: string; error?: string }>) {
  const failed = results.filter((r) => r.status !== 'ok');
  if (failed.length === 0) return '';
  const t = newTable(['HOSTNAME', 'STATUS', 'ERROR']);
  for (const r of failed) t.push(row([r.hostname, r.status, shorten(r.error ?? '')]));
  return `${t.toString()}\n`;
}

/** `container docker list`: every host's containers, a row each, the id short as docker prints it. */
export function dockerListTable(body: DockerListResponse): string {
  const t = newTable(['HOSTNAME', 'NAME', 'ID', 'IMAGE', 'STATE', 'CREATED']);
  for (const r of body.results) {
    for (const c of r.containers ?? []) {
      t.push(row([r.hostname, c.name, c.id.slice(0, 12), c.image, c.state, c.created]));
    }
  }
  const rows = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${rows}${problems(body.results)}`;
}

/** `container docker exec`: each host's output and exit code, as `command exec` shows them. */
export function dockerExecTable(body: DockerExecResponse): string {
  const t = newTable(['HOSTNAME', 'STATUS', 'STDOUT', 'STDERR', 'EXIT CODE']);
  for (const r of body.results) {
    const stderr = r.error ? [r.stderr, `error: ${r.error}`].filter(Boolean).join('\n') : r.stderr;
    t.push([
      escapeLine(r.hostname),
      escapeLine(r.status),
      shorten(escapeCell(r.stdout ?? '')),
      shorten(escapeCell(stderr ?? '')),
      r.exit_code === undefined ? '' : String(r.exit_code),
    ]);
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${t.toString()}\n`;
}
