// Tables for people of the service reads: a row per service of each host,
// and the hosts that could not answer with their error (--json has all).
import Table from 'cli-table3';
import type { ServiceInfo } from '../contract/services.js';
import type { ServiceGetResponse, ServiceListResponse } from '../sdk/client.js';
import { escapeLine } from './escape.js';
import { row, shorten } from './output.js';

const SERVICE_HEAD = ['SERVICE', 'ACTIVE', 'ENABLED', 'PID', 'DESCRIPTION'];

function newTable(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, wordWrap: false });
}

/** A service's cells: `active (running)`, the unit file state, a pid only when there is one. */
function serviceCells(s: ServiceInfo): string[] {
  return [
    s.name,
    s.sub_state ? `${s.status} (${s.sub_state})` : s.status,
    s.unit_file_state || String(s.enabled),
    s.pid > 0 ? String(s.pid) : '',
    shorten(s.description, 50),
  ];
}

/** The hosts without a result: their status and why; '' when every host answered. */
function problems(results: ReadonlyArray<{ hostname: string; status: string; error?: string }>) {
  const failed = results.filter((r) => r.status !== 'ok');
  if (failed.length === 0) return '';
  const t = newTable(['HOSTNAME', 'STATUS', 'ERROR']);
  for (const r of failed) t.push(row([r.hostname, r.status, shorten(r.error ?? '')]));
  return `${t.toString()}\n`;
}

/** `service list`: every host's services, a row each. */
export function serviceListTable(body: ServiceListResponse): string {
  const t = newTable(['HOSTNAME', ...SERVICE_HEAD]);
  for (const r of body.results) {
    for (const s of r.services ?? []) t.push(row([r.hostname, ...serviceCells(s)]));
  }
  const services = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${services}${problems(body.results)}`;
}

/** `service get`: the service on each host. */
export function serviceGetTable(body: ServiceGetResponse): string {
  const t = newTable(['HOSTNAME', ...SERVICE_HEAD]);
  for (const r of body.results) {
    if (r.service) t.push(row([r.hostname, ...serviceCells(r.service)]));
  }
  const services = t.length > 0 ? `${t.toString()}\n` : '';
  return `Job ID: ${escapeLine(body.job_id)}\n${services}${problems(body.results)}`;
}
