// Network interfaces, routes and DNS removal on the hosts, wire contract: what
// each operation takes and what an agent answers. Names and fields are the
// reference's (InterfaceConfigRequest, InterfaceInfo, RouteConfigRequest,
// RouteInfo, DNSDeleteRequest and their entries), with `source` added to the
// DNS removal's result.
import { type Static, Type } from 'typebox';

/**
 * What the kernel takes as an interface name (1 to 15 bytes, no '/', ':' or
 * whitespace), narrowed to printable ASCII, not starting with '-' (so no
 * tool reads it as an option) and not '.' or '..'.
 */
export const NETWORK_INTERFACE_PATTERN = '^(?!\\.\\.?$)[!-,.0-9;-~][!-.0-9;-~]{0,14}$';
export const NETWORK_INTERFACE_EXPECTED =
  "must be an interface name: 1 to 15 printable ASCII characters, no '/', ':' or whitespace, not starting with '-', not '.' or '..' (e.g. eth0)";

const InterfaceName = Type.String({
  pattern: NETWORK_INTERFACE_PATTERN,
  description: 'The network interface, e.g. eth0.',
});

export const InterfaceNameData = Type.Object(
  { name: InterfaceName },
  { additionalProperties: false },
);
export type InterfaceNameData = Static<typeof InterfaceNameData>;

export const RouteInterfaceData = Type.Object(
  { interface_name: InterfaceName },
  { additionalProperties: false },
);
export type RouteInterfaceData = Static<typeof RouteInterfaceData>;

/** Most addresses and routes one interface's configuration may hold: a cap keeps a job small. */
export const INTERFACE_ADDRESSES_MAX = 64;
export const INTERFACE_ROUTES_MAX = 256;
export const MTU_MIN = 68;
export const MTU_MAX = 65535;
/** The kernel's route metric is 32 bits. */
export const ROUTE_METRIC_MAX = 4294967295;

// Addresses, gateways and MAC carry no pattern here: their meaning is checked
// in data-checks.ts, so a 400 says what is expected in words.
export const InterfaceConfigRequest = Type.Object(
  {
    dhcp4: Type.Optional(Type.Boolean({ description: 'Take an IPv4 address by DHCP.' })),
    dhcp6: Type.Optional(Type.Boolean({ description: 'Take an IPv6 address by DHCPv6.' })),
    addresses: Type.Optional(
      Type.Array(Type.String({ maxLength: 64 }), {
        maxItems: INTERFACE_ADDRESSES_MAX,
        description: `Static addresses in CIDR form, IPv4 or IPv6 (e.g. 192.0.2.10/24, 2001:db8::10/64), at most ${INTERFACE_ADDRESSES_MAX}.`,
      }),
    ),
    gateway4: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'The IPv4 default gateway (a default route through it).',
      }),
    ),
    gateway6: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'The IPv6 default gateway (a default route through it).',
      }),
    ),
    mtu: Type.Optional(
      Type.Integer({ minimum: MTU_MIN, maximum: MTU_MAX, description: 'The MTU in bytes.' }),
    ),
    mac_address: Type.Optional(
      Type.String({
        maxLength: 17,
        description: 'The MAC address to set, six hex pairs joined by colons (02:00:00:aa:bb:cc).',
      }),
    ),
    wakeonlan: Type.Optional(Type.Boolean({ description: 'Enable wake-on-LAN.' })),
  },
  { additionalProperties: false },
);

export const InterfaceConfigData = Type.Object(
  { name: InterfaceName, ...InterfaceConfigRequest.properties },
  {
    additionalProperties: false,
    examples: [
      { name: 'eth1', addresses: ['192.0.2.10/24'], gateway4: '192.0.2.1', mtu: 1500 },
      { name: 'eth2', dhcp4: true },
    ],
  },
);
export type InterfaceConfigData = Static<typeof InterfaceConfigData>;

export const RouteItem = Type.Object(
  {
    to: Type.String({
      maxLength: 64,
      description: "The destination in CIDR form (203.0.113.0/24, 2001:db8:1::/48) or 'default'.",
    }),
    via: Type.String({
      maxLength: 64,
      description: "The gateway: an address of the destination's family.",
    }),
    metric: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: ROUTE_METRIC_MAX,
        description: 'The route metric (lower is preferred).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RouteItem = Static<typeof RouteItem>;

export const RouteConfigRequest = Type.Object(
  {
    routes: Type.Array(RouteItem, {
      minItems: 1,
      maxItems: INTERFACE_ROUTES_MAX,
      description: `The interface's static routes (1 to ${INTERFACE_ROUTES_MAX}).`,
    }),
  },
  { additionalProperties: false },
);

export const RouteConfigData = Type.Object(
  { interface_name: InterfaceName, ...RouteConfigRequest.properties },
  {
    additionalProperties: false,
    examples: [
      { interface_name: 'eth1', routes: [{ to: '203.0.113.0/24', via: '192.0.2.1', metric: 100 }] },
    ],
  },
);
export type RouteConfigData = Static<typeof RouteConfigData>;

// The DNS removal takes the interface as the DNS update does (its check is
// the same: data-checks.ts).
export const DnsDeleteData = Type.Object(
  {
    interface_name: Type.String({
      description: 'The network interface: 1 to 15 letters or digits (eth0).',
    }),
  },
  { additionalProperties: false, examples: [{ interface_name: 'eth0' }] },
);
export type DnsDeleteData = Static<typeof DnsDeleteData>;

// ---- what an agent answers -------------------------------------------------

export const InterfaceInfo = Type.Object(
  {
    name: Type.String(),
    ipv4: Type.Optional(Type.String({ description: 'The first IPv4 address, without prefix.' })),
    ipv6: Type.Optional(
      Type.String({ description: 'The first global IPv6 address, without prefix.' }),
    ),
    mac: Type.Optional(Type.String()),
    family: Type.Optional(
      Type.String({ description: 'inet, inet6 or dual: the families of its addresses.' }),
    ),
    addresses: Type.Array(Type.String(), {
      description: 'Every address in CIDR form, IPv4 first, link-local included.',
    }),
    mac_address: Type.Optional(Type.String({ description: 'The same as mac.' })),
    mtu: Type.Integer(),
    state: Type.String({ description: "The kernel's operational state: up, down, unknown..." }),
    dhcp4: Type.Boolean({ description: 'True when an IPv4 address is dynamic (leased).' }),
    dhcp6: Type.Boolean({ description: 'True when a global IPv6 address is dynamic (leased).' }),
    gateway4: Type.Optional(Type.String({ description: 'The gateway of its IPv4 default route.' })),
    gateway6: Type.Optional(Type.String({ description: 'The gateway of its IPv6 default route.' })),
    primary: Type.Boolean({
      description: 'True for the interface of the default route with the lowest metric.',
    }),
  },
  { description: 'A network interface as the kernel has it now.' },
);
export type InterfaceInfo = Static<typeof InterfaceInfo>;

export const InterfaceListResult = Type.Object({ interfaces: Type.Array(InterfaceInfo) });
export const InterfaceGetResult = Type.Object({ interface: InterfaceInfo });

export const InterfaceMutationResult = Type.Object({
  name: Type.String(),
  changed: Type.Boolean({
    description: 'False when the configuration already was as asked: nothing was written.',
  }),
});

export const RouteInfo = Type.Object(
  {
    destination: Type.String({ description: "CIDR, or 'default'." }),
    gateway: Type.Optional(Type.String()),
    interface: Type.String(),
    metric: Type.Integer(),
    scope: Type.String({ description: 'global, link or host.' }),
  },
  { description: 'A route of the main table, IPv4 and IPv6.' },
);
export type RouteInfo = Static<typeof RouteInfo>;

export const RouteListResult = Type.Object({ routes: Type.Array(RouteInfo) });

export const RouteMutationResult = Type.Object({
  interface: Type.String(),
  changed: Type.Boolean({
    description: 'False when the routes already were as asked: nothing was written.',
  }),
});

export const DnsDeleteResult = Type.Object({
  changed: Type.Boolean({
    description:
      'False when nothing this system set was there: the configuration is left as it is.',
  }),
  source: Type.String({
    description: 'Where it was restored: `systemd-resolved` or the resolv.conf path.',
  }),
});
