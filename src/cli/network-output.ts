// Tables for people of the network reads: a row per interface or route of
// each host, and the hosts that could not answer with their error (--json
// has every field).
import Table from 'cli-table3';
import type { InterfaceInfo, RouteInfo } from '../contract/network.js';
import type { OperationAnswer } from '../contract/operations.js';
import { escapeLine } from './escape.js';
import { row, shorten } from './output.js';

type InterfaceListResponse = OperationAnswer<'network.interface.list'>;
type InterfaceGetResponse = OperationAnswer<'network.interface.get'>;
type RouteListResponse = OperationAnswer<'network.route.list'>;

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

function interfaceCells(i: InterfaceInfo): string[] {
  return [
    i.primary ? `${i.name} *` : i.name,
    i.state,
    String(i.mtu),
    i.mac ?? '',
    i.addresses.join(', '),
    [i.gateway4, i.gateway6].filter(Boolean).join(', '),
  ];
}

const INTERFACE_HEAD = ['HOSTNAME', 'INTERFACE', 'STATE', 'MTU', 'MAC', 'ADDRESSES', 'GATEWAYS'];

function interfacesTable(
  jobId: string,
  results: ReadonlyArray<{ hostname: string; status: string; error?: string }>,
  interfacesOf: (r: never) => InterfaceInfo[],
): string {
  const t = newTable(INTERFACE_HEAD);
  for (const r of results) {
    for (const i of interfacesOf(r as never)) t.push(row([r.hostname, ...interfaceCells(i)]));
  }
  const rows = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(jobId)}\n${rows}${problems(results)}`;
}

/** `interface list`: every host's interfaces, a row each; `*` marks the primary one. */
export function interfaceListTable(body: InterfaceListResponse): string {
  return interfacesTable(
    body.job_id,
    body.results,
    (r: InterfaceListResponse['results'][number]) => r.interfaces ?? [],
  );
}

/** `interface get`: the interface on each host. */
export function interfaceGetTable(body: InterfaceGetResponse): string {
  return interfacesTable(body.job_id, body.results, (r: InterfaceGetResponse['results'][number]) =>
    r.interface ? [r.interface] : [],
  );
}

function routeCells(r: RouteInfo): string[] {
  return [r.destination, r.gateway ?? '', r.interface, String(r.metric), r.scope];
}

/** `route list` and `route get`: every host's routes, a row each. */
export function routeListTable(body: RouteListResponse): string {
  const t = newTable(['HOSTNAME', 'DESTINATION', 'GATEWAY', 'INTERFACE', 'METRIC', 'SCOPE']);
  for (const r of body.results) {
    for (const route of r.routes ?? []) t.push(row([r.hostname, ...routeCells(route)]));
  }
  const rows = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${rows}${problems(body.results)}`;
}
