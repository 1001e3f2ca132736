// network.interface.list|get and network.route.list|get: the interfaces and
// the main routing table as the kernel has them now, read with iproute2's
// JSON output (`ip -j addr show`, `ip -j -4|-6 route show table main`). The
// same on every host kind: nothing here depends on netplan or systemd. A host
// without `ip` answers `skipped`.
import type { InterfaceInfo, RouteInfo } from '../../contract/network.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import { runTool } from './host-tools.js';
import type { HandlerContext, JobHandler } from './types.js';

const IP_TIMEOUT_MS = 10_000;
const NO_IP = { unsupported: 'iproute2 is not installed on this host (no ip)' } as const;

/** One address of `ip -j addr`'s addr_info. */
interface IpAddress {
  family?: string;
  local?: string;
  prefixlen?: number;
  scope?: string;
  dynamic?: boolean;
}

/** One link of `ip -j addr`. */
interface IpLink {
  ifname?: string;
  address?: string;
  mtu?: number;
  operstate?: string;
  link_type?: string;
  addr_info?: IpAddress[];
}

/** One route of `ip -j route`. */
interface IpRoute {
  dst?: string;
  gateway?: string;
  dev?: string;
  metric?: number;
  scope?: string;
  type?: string;
}

/** The kernel's state of one host: its links and its routes, both families. */
export interface KernelNetwork {
  links: IpLink[];
  routes: RouteInfo[];
}

/** The problem of a read: unsupported, or a sentence. */
type ReadProblem = { unsupported: string } | { ok: false; error: string };

function ipTool(ctx: HandlerContext): string {
  return ctx.host?.ipTool ?? 'ip';
}

/** Runs `ip -j ARGS` and parses its JSON array. */
async function ipJson(ctx: HandlerContext, args: string[]): Promise<unknown[] | ReadProblem> {
  const run = await runTool(ipTool(ctx), ['-j', ...args], {
    signal: ctx.signal,
    timeoutMs: IP_TIMEOUT_MS,
  });
  if (run.kind === 'missing') return NO_IP;
  if (run.kind === 'failed') return failed(run.error);
  try {
    const parsed: unknown = JSON.parse(run.stdout.trim() || '[]');
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // Told below.
  }
  return failed(`ip ${args.join(' ')} answered what this agent cannot read (not a JSON array)`);
}

/** The route as the contract has it; null for one through no interface (unreachable, blackhole). */
export function routeInfo(r: IpRoute): RouteInfo | null {
  // ip names the type of any route but a unicast one; an IPv6 unreachable route says `dev lo`.
  if (r.type !== undefined && r.type !== 'unicast') return null;
  if (typeof r.dev !== 'string' || typeof r.dst !== 'string') return null;
  return {
    destination: r.dst,
    ...(typeof r.gateway === 'string' ? { gateway: r.gateway } : {}),
    interface: r.dev,
    // IPv4 routes without a metric have 0; ip leaves it out then.
    metric: typeof r.metric === 'number' ? r.metric : 0,
    scope: typeof r.scope === 'string' ? r.scope : 'global',
  };
}

/** Links, then IPv4 and IPv6 routes of the main table. */
export async function readKernelNetwork(ctx: HandlerContext): Promise<KernelNetwork | ReadProblem> {
  const links = await ipJson(ctx, ['addr', 'show']);
  if (!Array.isArray(links)) return links;
  const routes: RouteInfo[] = [];
  for (const family of ['-4', '-6']) {
    const got = await ipJson(ctx, [family, 'route', 'show', 'table', 'main']);
    if (!Array.isArray(got)) return got;
    for (const r of got) {
      const info = routeInfo(r as IpRoute);
      if (info) routes.push(info);
    }
  }
  return { links: links as IpLink[], routes };
}

const isV6 = (address: string) => address.includes(':');

/** The default route through `name` with the lowest metric, of one family. */
function defaultGateway(routes: RouteInfo[], name: string, v6: boolean): string | undefined {
  return routes
    .filter(
      (r) =>
        r.destination === 'default' &&
        r.interface === name &&
        r.gateway !== undefined &&
        isV6(r.gateway) === v6,
    )
    .sort((a, b) => a.metric - b.metric)[0]?.gateway;
}

/** The interface of the default route with the lowest metric, IPv4 before IPv6. */
export function primaryInterface(routes: RouteInfo[]): string | undefined {
  const defaults = routes.filter((r) => r.destination === 'default');
  const best = (v6: boolean) =>
    defaults
      .filter((r) => (r.gateway === undefined ? false : isV6(r.gateway) === v6))
      .sort((a, b) => a.metric - b.metric)[0]?.interface;
  return best(false) ?? best(true) ?? defaults[0]?.interface;
}

/** One link as the contract has it. */
export function interfaceInfo(link: IpLink, routes: RouteInfo[], primary?: string): InterfaceInfo {
  const name = link.ifname ?? '';
  const addrs = (link.addr_info ?? []).filter(
    (a): a is IpAddress & { local: string } => typeof a.local === 'string',
  );
  const v4 = addrs.filter((a) => a.family === 'inet');
  const v6 = addrs.filter((a) => a.family === 'inet6');
  const v6Global = v6.filter((a) => a.scope === 'global');
  const family =
    v4.length > 0 && v6.length > 0 ? 'dual' : v4.length > 0 ? 'inet' : v6.length > 0 ? 'inet6' : '';
  const gateway4 = defaultGateway(routes, name, false);
  const gateway6 = defaultGateway(routes, name, true);
  const mac = link.link_type === 'none' ? undefined : link.address;
  return {
    name,
    ...(v4[0] ? { ipv4: v4[0].local } : {}),
    ...(v6Global[0] ? { ipv6: v6Global[0].local } : {}),
    ...(mac ? { mac, mac_address: mac } : {}),
    ...(family ? { family } : {}),
    addresses: [...v4, ...v6].map((a) => `${a.local}/${a.prefixlen ?? (isV6(a.local) ? 128 : 32)}`),
    mtu: typeof link.mtu === 'number' ? link.mtu : 0,
    state: (link.operstate ?? 'unknown').toLowerCase(),
    dhcp4: v4.some((a) => a.dynamic === true),
    dhcp6: v6Global.some((a) => a.dynamic === true),
    ...(gateway4 ? { gateway4 } : {}),
    ...(gateway6 ? { gateway6 } : {}),
    primary: primary !== undefined && primary === name,
  };
}

export function interfacesOf(net: KernelNetwork): InterfaceInfo[] {
  const primary = primaryInterface(net.routes);
  return net.links
    .filter((l) => typeof l.ifname === 'string')
    .map((l) => interfaceInfo(l, net.routes, primary));
}

/** The failure of a read naming an interface this host does not have. */
export function unknownInterfaceError(
  name: string,
  net: KernelNetwork,
): { ok: false; error: string } {
  const names = net.links.map((l) => l.ifname).filter((n): n is string => typeof n === 'string');
  return failed(
    `unknown interface "${name}": this host has ${names.length > 0 ? names.sort().join(', ') : 'no interfaces'}`,
  );
}

async function withNetwork<
  T extends
    | 'network.interface.list'
    | 'network.interface.get'
    | 'network.route.list'
    | 'network.route.get',
>(ctx: HandlerContext, answer: (net: KernelNetwork) => NodeOutcome<T>): Promise<NodeOutcome<T>> {
  const net = await readKernelNetwork(ctx);
  if ('links' in net) return answer(net);
  return net;
}

export const interfaceListHandler: JobHandler = nodeHandler(
  'network.interface.list',
  (_data, ctx) =>
    withNetwork(ctx, (net) => ({ ok: true, result: { interfaces: interfacesOf(net) } })),
);

export const interfaceGetHandler: JobHandler = nodeHandler('network.interface.get', (data, ctx) =>
  withNetwork(ctx, (net) => {
    const found = interfacesOf(net).find((i) => i.name === data.name);
    return found
      ? { ok: true, result: { interface: found } }
      : unknownInterfaceError(data.name, net);
  }),
);

export const routeListHandler: JobHandler = nodeHandler('network.route.list', (_data, ctx) =>
  withNetwork(ctx, (net) => ({ ok: true, result: { routes: net.routes } })),
);

export const routeGetHandler: JobHandler = nodeHandler('network.route.get', (data, ctx) =>
  withNetwork(ctx, (net) => {
    const name = data.interface_name;
    if (!net.links.some((l) => l.ifname === name)) return unknownInterfaceError(name, net);
    return { ok: true, result: { routes: net.routes.filter((r) => r.interface === name) } };
  }),
);
