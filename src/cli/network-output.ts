// Tables for people of the network reads: a row per interface or route of
// each host, and the hosts that could not answer with their error (--json
// has every field).
import type { InterfaceInfo, RouteInfo } from '../contract/network.js';
import type { OperationAnswer } from '../contract/operations.js';
import { perItem } from './output.js';

type InterfaceListResponse = OperationAnswer<'network.interface.list'>;
type InterfaceGetResponse = OperationAnswer<'network.interface.get'>;
type RouteListResponse = OperationAnswer<'network.route.list'>;

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

const INTERFACE_HEAD = ['INTERFACE', 'STATE', 'MTU', 'MAC', 'ADDRESSES', 'GATEWAYS'];

/** `interface list`: every host's interfaces, a row each; `*` marks the primary one. */
export function interfaceListTable(body: InterfaceListResponse): string {
  return perItem(body, INTERFACE_HEAD, (r) => r.interfaces, interfaceCells);
}

/** `interface get`: the interface on each host. */
export function interfaceGetTable(body: InterfaceGetResponse): string {
  return perItem(body, INTERFACE_HEAD, (r) => (r.interface ? [r.interface] : []), interfaceCells);
}

function routeCells(r: RouteInfo): string[] {
  return [r.destination, r.gateway ?? '', r.interface, String(r.metric), r.scope];
}

/** `route list` and `route get`: every host's routes, a row each. */
export function routeListTable(body: RouteListResponse): string {
  return perItem(
    body,
    ['DESTINATION', 'GATEWAY', 'INTERFACE', 'METRIC', 'SCOPE'],
    (r) => r.routes,
    routeCells,
  );
}
