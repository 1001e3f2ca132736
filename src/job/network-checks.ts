// What the network changes' schemas cannot say: addresses in CIDR form,
// gateways of the right family, a MAC address, routes whose gateway is of
// their destination's family, nothing given twice.
import { isIP } from 'node:net';
import type { InterfaceConfigData, RouteConfigData } from '../contract/network.js';
import type { OperationType } from '../contract/operations.js';

interface DataProblem {
  field: string;
  message: string;
}

export const CIDR_EXPECTED =
  'must be an address with its prefix length (CIDR), e.g. 192.0.2.10/24 or 2001:db8::10/64';
export const ROUTE_TO_EXPECTED =
  "must be 'default' or a destination in CIDR form, e.g. 203.0.113.0/24 or 2001:db8:1::/48";
export const MAC_EXPECTED =
  'must be a MAC address: six pairs of hex digits joined by colons (02:00:00:aa:bb:cc)';

/** 4 or 6 for a literal address without a zone, else 0. */
function familyOf(address: string): 0 | 4 | 6 {
  if (address.includes('%')) return 0;
  return isIP(address) as 0 | 4 | 6;
}

/** The family of `address/prefix` with a prefix of its family's range, else 0. */
export function cidrFamily(s: string): 0 | 4 | 6 {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return 0;
  const family = familyOf(m[1] as string);
  if (family === 0) return 0;
  const prefix = Number(m[2]);
  return prefix <= (family === 4 ? 32 : 128) && String(prefix) === m[2] ? family : 0;
}

const MAC = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$/;

const CONFIG_FIELDS = [
  'dhcp4',
  'dhcp6',
  'addresses',
  'gateway4',
  'gateway6',
  'mtu',
  'mac_address',
  'wakeonlan',
] as const;

function interfaceProblems(data: InterfaceConfigData): DataProblem[] {
  const problems: DataProblem[] = [];
  if (CONFIG_FIELDS.every((f) => data[f] === undefined)) {
    problems.push({
      field: 'addresses',
      message: `is required when none of ${CONFIG_FIELDS.filter((f) => f !== 'addresses').join(', ')} is given`,
    });
  }
  const first = new Map<string, number>();
  (data.addresses ?? []).forEach((a, i) => {
    const key = a.toLowerCase();
    if (cidrFamily(a) === 0) problems.push({ field: `addresses[${i}]`, message: CIDR_EXPECTED });
    else if (first.has(key)) {
      problems.push({ field: `addresses[${i}]`, message: `repeats addresses[${first.get(key)}]` });
    } else first.set(key, i);
  });
  if (data.gateway4 !== undefined && familyOf(data.gateway4) !== 4) {
    problems.push({ field: 'gateway4', message: 'must be an IPv4 address, e.g. 192.0.2.1' });
  }
  if (data.gateway6 !== undefined && familyOf(data.gateway6) !== 6) {
    problems.push({ field: 'gateway6', message: 'must be an IPv6 address, e.g. 2001:db8::1' });
  }
  if (data.mac_address !== undefined && !MAC.test(data.mac_address)) {
    problems.push({ field: 'mac_address', message: MAC_EXPECTED });
  }
  return problems;
}

function routeProblems(data: RouteConfigData): DataProblem[] {
  const problems: DataProblem[] = [];
  const first = new Map<string, number>();
  data.routes.forEach((r, i) => {
    const toFamily = r.to === 'default' ? null : cidrFamily(r.to);
    const viaFamily = familyOf(r.via);
    if (toFamily === 0) {
      problems.push({ field: `routes[${i}].to`, message: ROUTE_TO_EXPECTED });
      return;
    }
    if (viaFamily === 0) {
      problems.push({ field: `routes[${i}].via`, message: 'must be an IPv4 or IPv6 address' });
      return;
    }
    if (toFamily !== null && toFamily !== viaFamily) {
      problems.push({
        field: `routes[${i}].via`,
        message: `must be an IPv${toFamily} address, as the destination is`,
      });
      return;
    }
    const key = `${r.to.toLowerCase()} ${viaFamily}`;
    if (first.has(key)) {
      problems.push({ field: `routes[${i}].to`, message: `repeats routes[${first.get(key)}].to` });
    } else first.set(key, i);
  });
  return problems.slice(0, 10);
}

export function networkDataProblems(type: OperationType, data: unknown): DataProblem[] {
  if (type === 'network.interface.create' || type === 'network.interface.update') {
    return interfaceProblems(data as InterfaceConfigData);
  }
  if (type === 'network.route.create' || type === 'network.route.update') {
    return routeProblems(data as RouteConfigData);
  }
  return [];
}
