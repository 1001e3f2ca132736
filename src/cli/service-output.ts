// Tables for people of the service reads: a row per service of each host,
// and the hosts that could not answer with their error (--json has all).
import type { ServiceInfo } from '../contract/services.js';
import type { ServiceGetResponse, ServiceListResponse } from '../sdk/client.js';
import { perItem, shorten } from './output.js';

const SERVICE_HEAD = ['SERVICE', 'ACTIVE', 'ENABLED', 'PID', 'DESCRIPTION'];

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

/** `service list`: every host's services, a row each. */
export function serviceListTable(body: ServiceListResponse): string {
  return perItem(body, SERVICE_HEAD, (r) => r.services, serviceCells);
}

/** `service get`: the service on each host. */
export function serviceGetTable(body: ServiceGetResponse): string {
  return perItem(body, SERVICE_HEAD, (r) => (r.service ? [r.service] : []), serviceCells);
}
