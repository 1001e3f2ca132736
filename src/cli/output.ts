// Tables for people: long cells cut short (the whole output is in --json),
// and every field from the API escaped (escape.ts): agents write what these
// show, and a terminal obeys escape sequences.
import Table from 'cli-table3';
import type { PendingAgentInfo } from '../contract/agent.js';
import type { FactKeyEntry } from '../contract/facts.js';
import { humanBytes } from '../format/units.js';
import type { AgentInfo, AuditEntry, CommandResponse, JobDetail } from '../sdk/client.js';
import { escapeCell, escapeLine } from './escape.js';

const CELL_MAX = 60;

/** A table row of one-line fields, each escaped. */
export function row(cells: string[]): string[] {
  return cells.map(escapeLine);
}

/** Output shown in a cell: escaped (newlines kept), then cut short. */
function outputCell(text: string): string {
  return shorten(escapeCell(text));
}

/** A table for people: no colours, cells kept on their line. */
export function newTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, wordWrap: false });
}

/** What every host answered in a read: its status, and why when it failed. */
interface HostItem {
  hostname: string;
  status: string;
  error?: string;
}

/**
 * A row per item of each host that answered (services, packages, users,
 * processes...), then a table of the hosts that did not, with why; --json
 * has everything.
 */
export function perItem<R extends HostItem, I>(
  body: { job_id: string; results: readonly R[] },
  head: string[],
  items: (r: R) => readonly I[] | undefined,
  cells: (item: I) => string[],
): string {
  const t = newTable(['HOSTNAME', ...head]);
  for (const r of body.results) {
    for (const item of items(r) ?? []) t.push(row([r.hostname, ...cells(item)]));
  }
  const failed = body.results.filter((r) => r.status !== 'ok');
  let problems = '';
  if (failed.length > 0) {
    const p = newTable(['HOSTNAME', 'STATUS', 'ERROR']);
    for (const r of failed) p.push(row([r.hostname, r.status, shorten(r.error ?? '')]));
    problems = `${p.toString()}\n`;
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${t.length > 0 ? `${t.toString()}\n` : ''}${problems}`;
}

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
      escapeLine(r.hostname),
      String(r.changed),
      outputCell(r.stdout),
      outputCell(stderr),
      String(r.exit_code),
      formatMs(r.duration_ms),
    ]);
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${table.toString()}\n`;
}

export function agentTable(agents: AgentInfo[]): string {
  const table = new Table({
    head: [
      'HOSTNAME',
      'STATUS',
      'STATE',
      'LABELS',
      'OS',
      'LOAD (1m)',
      'MEMORY USED',
      'UPTIME',
      'LAST SEEN',
    ],
    style: { head: [], border: [] },
  });
  for (const a of agents) {
    table.push(
      row([
        a.hostname,
        a.status,
        // An API server older than agent states sends none.
        a.state ?? 'Ready',
        Object.entries(a.labels)
          .map(([k, v]) => `${k}:${v}`)
          .join(' '),
        `${a.os_info.distribution} ${a.os_info.version}`,
        String(a.load_average['1min']),
        `${humanBytes(a.memory.used)} / ${humanBytes(a.memory.total)}`,
        a.uptime,
        `${a.heartbeat_age_s}s ago`,
      ]),
    );
  }
  return `${table.toString()}\n`;
}

export function pendingTable(agents: PendingAgentInfo[]): string {
  const table = new Table({
    head: ['HOSTNAME', 'FINGERPRINT', 'MACHINE ID', 'ASKING SINCE'],
    style: { head: [], border: [] },
  });
  for (const a of agents)
    table.push(row([a.hostname, a.fingerprint, a.machine_id, a.requested_at]));
  return `${table.toString()}\n`;
}

/** An agent's facts, one per line, by their `@fact.` key. */
export function factsTable(facts: Record<string, string>): string {
  const table = new Table({ head: ['FACT', 'VALUE'], style: { head: [], border: [] } });
  for (const [k, v] of Object.entries(facts).sort(([a], [b]) => a.localeCompare(b))) {
    table.push(row([k, v]));
  }
  return `${table.toString()}\n`;
}

export function factKeysTable(keys: FactKeyEntry[]): string {
  const table = new Table({
    head: ['KEY', 'BUILT IN', 'DESCRIPTION'],
    style: { head: [], border: [] },
  });
  for (const k of keys) table.push(row([k.key, k.builtin ? 'yes' : 'no', k.description]));
  return `${table.toString()}\n`;
}

export function jobListTable(jobs: JobDetail[]): string {
  const table = new Table({
    head: ['JOB ID', 'STATUS', 'OPERATION', 'TARGET', 'CREATED', 'BY'],
    style: { head: [], border: [] },
  });
  for (const j of jobs) {
    table.push(row([j.id, j.status, j.operation.type, j.target_hostname, j.created, j.created_by]));
  }
  return `${table.toString()}\n`;
}

interface ResultData {
  stdout?: string;
  stderr?: string;
  exit_code?: number;
}

export function jobDetailText(j: JobDetail): string {
  const head = [
    `Job ID: ${j.id}`,
    `Status: ${j.status}`,
    `Operation: ${j.operation.type} ${JSON.stringify(j.operation.data)}`,
    `Target: ${j.target_hostname}`,
    `Created: ${j.created} by ${j.created_by}`,
    `Updated: ${j.updated_at}`,
    ...(j.error ? [`Error: ${j.error}`] : []),
  ].map(escapeLine);
  const hosts = new Table({
    head: ['HOSTNAME', 'STATE', 'EXIT CODE', 'STDOUT', 'STDERR', 'DURATION'],
    style: { head: [], border: [] },
  });
  for (const [host, state] of Object.entries(j.agent_states)) {
    const data = (j.responses[host]?.data ?? {}) as ResultData;
    const stderr = [data.stderr ?? '', state.error ? `error: ${state.error}` : '']
      .filter(Boolean)
      .join('\n');
    hosts.push([
      escapeLine(host),
      escapeLine(state.status),
      data.exit_code === undefined ? '' : escapeLine(String(data.exit_code)),
      outputCell(typeof data.stdout === 'string' ? data.stdout : ''),
      outputCell(stderr),
      escapeLine(state.duration ?? ''),
    ]);
  }
  const timeline = j.timeline.map(
    (e) =>
      `  ${escapeLine(`${e.timestamp}  ${e.event.padEnd(12)} ${e.hostname}${e.message ? `  ${e.message}` : ''}${e.error ? `  error: ${e.error}` : ''}`)}`,
  );
  return `${head.join('\n')}\n${hosts.toString()}\nTimeline:\n${timeline.join('\n')}\n`;
}

export function auditTable(entries: AuditEntry[]): string {
  const table = new Table({
    head: ['TIME', 'USER', 'METHOD', 'PATH', 'CODE', 'DURATION', 'SOURCE', 'ID'],
    style: { head: [], border: [] },
  });
  for (const e of entries) {
    table.push([
      escapeLine(e.timestamp),
      escapeLine(e.user || '(no token)'),
      escapeLine(e.method),
      shorten(escapeLine(e.path), 50),
      String(e.response_code),
      `${e.duration_ms}ms`,
      escapeLine(e.source_ip),
      escapeLine(e.id),
    ]);
  }
  return `${table.toString()}\n`;
}
