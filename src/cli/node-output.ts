// Tables for people of the node information and network answers: sizes in
// KiB/MiB/GiB with percentages, errors in their own column (--json has all).

import Table from 'cli-table3';
import type { OperationAnswerBody } from '../contract/answers.js';
import type { Disk } from '../contract/node-operations.js';
import {
  answerFields,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
} from '../contract/operations.js';
import { humanBytes, percent } from '../format/units.js';
import type {
  DiskResponse,
  DnsResponse,
  DnsUpdateResponse,
  HostnameResponse,
  MemoryResponse,
  PingResponse,
  StatusResponse,
} from '../sdk/client.js';
import { dockerExecTable, dockerListTable } from './docker-output.js';
import { escapeLine } from './escape.js';
import { interfaceGetTable, interfaceListTable, routeListTable } from './network-output.js';
import { perItem, row, shorten } from './output.js';
import { packagesTable, updatesTable } from './package-output.js';
import { serviceGetTable, serviceListTable } from './service-output.js';
import { groupsTable, sshKeysTable, usersTable } from './user-output.js';

interface Item {
  hostname: string;
  status: string;
  error?: string;
}

function table<T extends Item>(head: string[], items: T[], rows: (r: T) => string[]): string {
  // The ERROR column only when some host could not answer.
  const withError = items.some((r) => r.error);
  const t = new Table({
    head: withError ? [...head, 'ERROR'] : head,
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of items) {
    // A host that could not answer has only its name and the error.
    const cells = r.status === 'completed' ? rows(r) : [r.hostname, ...head.slice(1).map(() => '')];
    // Every field comes from an agent: escaped, each on one line.
    t.push(row(withError ? [...cells, shorten(r.error ?? '')] : cells));
  }
  return t.toString();
}

/** Every host's disks, a row each, sizes for people; '' when no host has any. */
function disksTable(results: ReadonlyArray<{ hostname: string; disks?: Disk[] }>): string {
  const disks = new Table({
    head: ['HOSTNAME', 'DISK', 'SIZE', 'USED', 'FREE', 'USE%'],
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of results) {
    for (const d of r.disks ?? []) {
      disks.push(
        row([
          r.hostname,
          shorten(d.name, 40),
          humanBytes(d.total),
          humanBytes(d.used),
          humanBytes(d.free),
          // As df: the share of what users can use (used + available) that is used.
          percent(d.used, d.used + d.free),
        ]),
      );
    }
  }
  return disks.length > 0 ? disks.toString() : '';
}

/** `disk`: the disks table, and the hosts that could not answer with their error. */
export function diskTable(body: DiskResponse): string {
  const failed = body.results.filter((r) => r.status !== 'completed');
  const problems =
    failed.length > 0
      ? `${table(['HOSTNAME', 'STATUS'], failed, (r) => [r.hostname, r.status])}\n`
      : '';
  const disks = disksTable(body.results);
  return `Job ID: ${escapeLine(body.job_id)}\n${disks ? `${disks}\n` : ''}${problems}`;
}

/** `memory`: sizes for people, and the share used. */
export function memoryTable(body: MemoryResponse): string {
  type R = MemoryResponse['results'][number];
  const t = table(['HOSTNAME', 'TOTAL', 'USED', 'FREE', 'USE%'], body.results, (r: R) => [
    r.hostname,
    r.memory ? humanBytes(r.memory.total) : '',
    r.memory ? humanBytes(r.memory.used) : '',
    r.memory ? humanBytes(r.memory.free) : '',
    r.memory ? percent(r.memory.used, r.memory.total) : '',
  ]);
  return `Job ID: ${escapeLine(body.job_id)}\n${t}\n`;
}

export function statusTables(body: StatusResponse): string {
  type R = StatusResponse['results'][number];
  const hosts = table(
    ['HOSTNAME', 'UPTIME', 'LOAD (1m 5m 15m)', 'MEMORY USED', 'OS'],
    body.results,
    (r: R) => [
      r.hostname,
      r.uptime ?? '',
      r.load_average
        ? `${r.load_average['1min']} ${r.load_average['5min']} ${r.load_average['15min']}`
        : '',
      r.memory
        ? `${humanBytes(r.memory.used)} / ${humanBytes(r.memory.total)} (${percent(r.memory.used, r.memory.total)})`
        : '',
      r.os_info ? `${r.os_info.distribution} ${r.os_info.version}` : '',
    ],
  );
  const disks = disksTable(body.results);
  return `Job ID: ${escapeLine(body.job_id)}\n${hosts}\n${disks ? `Disks:\n${disks}\n` : ''}`;
}

export function hostnameTable(body: HostnameResponse): string {
  type R = HostnameResponse['results'][number];
  const t = table(['HOSTNAME', 'LABELS', 'OS HOSTNAME'], body.results, (r: R) => [
    r.hostname,
    Object.entries(r.labels ?? {})
      .map(([k, v]) => `${k}:${v}`)
      .join(' '),
    r.os_hostname ?? '',
  ]);
  return `Job ID: ${escapeLine(body.job_id)}\n${t}\n`;
}

export function pingTable(body: PingResponse): string {
  type R = PingResponse['results'][number];
  const t = table(
    ['HOSTNAME', 'SENT', 'RECEIVED', 'LOSS', 'MIN RTT', 'AVG RTT', 'MAX RTT'],
    body.results,
    (r: R) => [
      r.hostname,
      String(r.packets_sent ?? ''),
      String(r.packets_received ?? ''),
      r.packet_loss === undefined ? '' : `${r.packet_loss}%`,
      r.min_rtt ?? '',
      r.avg_rtt ?? '',
      r.max_rtt ?? '',
    ],
  );
  return `Job ID: ${escapeLine(body.job_id)}\n${t}\n`;
}

export function dnsTable(body: DnsResponse): string {
  type R = DnsResponse['results'][number];
  const t = table(['HOSTNAME', 'SERVERS', 'SEARCH DOMAINS'], body.results, (r: R) => [
    r.hostname,
    (r.servers ?? []).join(', '),
    (r.search_domains ?? []).join(', '),
  ]);
  return `Job ID: ${escapeLine(body.job_id)}\n${t}\n`;
}

/** Every host with its status and whether it changed; ERROR always there. */
export function dnsUpdateTable(body: DnsUpdateResponse): string {
  const t = new Table({
    head: ['HOSTNAME', 'STATUS', 'CHANGED', 'ERROR'],
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of body.results) {
    t.push(row([r.hostname, r.status, String(r.changed), shorten(r.error ?? '')]));
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${t.toString()}\n`;
}

/** One cell of a field whose shape only its schema knows: scalars as they are, the rest briefly. */
function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v))
    return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (typeof v === 'object') {
    return Object.entries(v)
      .map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
      .join(' ');
  }
  return String(v);
}

/**
 * A read whose result is one list of records (processes, cron entries,
 * certificates...): that field and the records' own fields, for a row per
 * record. Null for any other result.
 */
function listedItems(
  decl: OperationDeclaration,
  fields: string[],
): { field: string; columns: string[] } | null {
  if (decl.answer !== 'read' || fields.length !== 1) return null;
  const field = fields[0] as string;
  const schema = (decl.result.properties as Record<string, ListSchema>)[field];
  const columns = Object.keys(schema?.items?.properties ?? {});
  return schema?.type === 'array' && columns.length > 0 ? { field, columns } : null;
}

interface ListSchema {
  type?: string;
  items?: { properties?: Record<string, unknown> };
}

/**
 * The table of any operation's answer, from its declared result's fields, for
 * an operation without a table of its own: HOSTNAME, STATUS (and CHANGED for
 * a change), each field, and ERROR when some host has one.
 */
export function resultTable(type: OperationType, body: OperationAnswerBody): string {
  const decl: OperationDeclaration = OPERATIONS[type];
  // `changed` has a column of its own; a result's own `status` is the item's (file status).
  const fields = answerFields(decl);
  const listed = listedItems(decl, fields);
  if (listed) {
    return perItem(
      body,
      listed.columns.map((c) => c.replaceAll('_', ' ').toUpperCase()),
      (r) => r[listed.field] as Record<string, unknown>[] | undefined,
      (item) => listed.columns.map((c) => shorten(cell(item[c]), 40)),
    );
  }
  const change = decl.answer === 'change';
  const withError = body.results.some((r) => r.error);
  const t = new Table({
    head: [
      'HOSTNAME',
      'STATUS',
      ...(change ? ['CHANGED'] : []),
      ...fields.map((f) => f.replaceAll('_', ' ').toUpperCase()),
      ...(withError ? ['ERROR'] : []),
    ],
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const r of body.results) {
    t.push(
      row([
        r.hostname,
        r.status,
        ...(change ? [String(r.changed ?? false)] : []),
        ...fields.map((f) => shorten(cell(r[f]))),
        ...(withError ? [shorten(r.error ?? '')] : []),
      ]),
    );
  }
  return `Job ID: ${escapeLine(body.job_id)}\n${t.toString()}\n`;
}

/** The operations with a table of their own; the others get resultTable. */
export const OPERATION_TABLES: Partial<Record<OperationType, (body: never) => string>> = {
  'node.status.get': statusTables,
  'node.hostname.get': hostnameTable,
  'node.disk.get': diskTable,
  'node.memory.get': memoryTable,
  'network.ping.do': pingTable,
  'network.dns.get': dnsTable,
  'network.dns.update': dnsUpdateTable,
  'network.interface.list': interfaceListTable,
  'network.interface.get': interfaceGetTable,
  'network.route.list': routeListTable,
  'network.route.get': routeListTable,
  'service.list': serviceListTable,
  'service.get': serviceGetTable,
  'package.list': packagesTable,
  'package.get': packagesTable,
  'package.updates.list': updatesTable,
  'user.list': usersTable,
  'user.get': usersTable,
  'user.sshkey.list': sshKeysTable,
  'group.list': groupsTable,
  'group.get': groupsTable,
  'docker.container.list': dockerListTable,
  'docker.container.exec': dockerExecTable,
};
