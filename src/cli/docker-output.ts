// Tables for people of the docker answers: a row per container of each host,
// and an exec's output per host as a command's is shown; the hosts that could
// not answer with their error (--json has all).
import type { DockerExecResponse, DockerListResponse } from '../sdk/client.js';
import { escapeCell, escapeLine } from './escape.js';
import { newTable, perItem, shorten } from './output.js';

/** `container docker list`: every host's containers, a row each, the id short as docker prints it. */
export function dockerListTable(body: DockerListResponse): string {
  return perItem(
    body,
    ['NAME', 'ID', 'IMAGE', 'STATE', 'CREATED'],
    (r) => r.containers,
    (c) => [c.name, c.id.slice(0, 12), c.image, c.state, c.created],
  );
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
