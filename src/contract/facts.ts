// Facts: what an agent knows of its host, collected at start and on an
// interval (src/agent/facts.ts), stored in the agent-facts bucket, shown by
// GET /agent, and usable in any string field of an operation's request as
// `@fact.<key>`, which each agent replaces with its own value (fact-refs.ts).
import { type Static, Type } from 'typebox';

export const NetworkInterface = Type.Object({
  name: Type.String(),
  ipv4: Type.Optional(Type.String()),
  ipv6: Type.Optional(Type.String()),
  mac: Type.Optional(Type.String()),
  family: Type.Union([Type.Literal('inet'), Type.Literal('inet6'), Type.Literal('dual')]),
});
export type NetworkInterface = Static<typeof NetworkInterface>;

export const Route = Type.Object(
  {
    destination: Type.String(),
    gateway: Type.String(),
    interface: Type.String(),
    mask: Type.Optional(Type.String()),
    metric: Type.Optional(Type.Integer()),
    flags: Type.Optional(Type.String()),
  },
  { description: 'A network routing table entry.' },
);
export type Route = Static<typeof Route>;

/** A custom fact's value: JSON, as its source gave it. */
const CustomValue = Type.Unknown();

/** What an agent stores under its hostname in the agent-facts bucket. */
export const HostFacts = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: 253 }),
  collected_at: Type.String({ format: 'date-time' }),
  machine_id: Type.String(),
  architecture: Type.String(),
  kernel_version: Type.String(),
  fqdn: Type.String(),
  cpu_count: Type.Integer({ minimum: 0 }),
  memory_total: Type.Integer({ minimum: 0 }),
  os: Type.Object({ distribution: Type.String(), version: Type.String(), family: Type.String() }),
  interfaces: Type.Array(NetworkInterface, { maxItems: 256 }),
  /** The interface of the default route; empty when there is none. */
  primary_interface: Type.String(),
  routes: Type.Array(Route, { maxItems: 1024 }),
  service_mgr: Type.String(),
  package_mgr: Type.String(),
  /** Whether the agent runs inside a container. */
  container: Type.Boolean(),
  /** From agent.facts.custom and the files of agent.facts.dir. */
  custom: Type.Record(Type.String(), CustomValue),
});
export type HostFacts = Static<typeof HostFacts>;

export const FactKeyEntry = Type.Object({
  key: Type.String(),
  description: Type.String(),
  builtin: Type.Boolean(),
});
export type FactKeyEntry = Static<typeof FactKeyEntry>;

export const FactKeysResponse = Type.Object({ keys: Type.Array(FactKeyEntry) });
export type FactKeysResponse = Static<typeof FactKeysResponse>;

/**
 * The built-in fact keys, with what each holds. Keys of a family (one per
 * interface) are written with `<name>`; the keys in use replace it.
 */
export const BUILTIN_FACT_KEYS: ReadonlyArray<readonly [key: string, description: string]> = [
  ['hostname', 'The name the agent registers under'],
  ['machine_id', 'The host’s machine id (/etc/machine-id), empty where there is none'],
  ['architecture', 'The machine architecture, as `uname -m` says (x86_64, aarch64)'],
  ['kernel_version', 'The kernel release (`uname -r`)'],
  ['fqdn', 'The fully qualified domain name'],
  ['cpu_count', 'How many CPUs the agent may use'],
  ['memory_total', 'Total memory in bytes'],
  ['os.distribution', 'The distribution’s ID from /etc/os-release (debian, ubuntu, rhel)'],
  ['os.version', 'The distribution’s VERSION_ID (12, 24.04)'],
  ['os.family', 'The first of ID_LIKE, or the ID itself: debian, rhel, suse, alpine, arch'],
  ['primary_interface', 'The interface of the default route'],
  ['primary_ipv4', 'The first IPv4 address of the primary interface'],
  ['primary_ipv6', 'The first IPv6 address of the primary interface'],
  ['default_gateway', 'The gateway of the default route'],
  ['service_mgr', 'The service manager: systemd, openrc, sysvinit, or none'],
  ['package_mgr', 'The package manager: apt, dnf, yum, zypper, apk, pacman, or none'],
  ['container', 'true when the agent runs in a container'],
  ['interfaces.<name>.ipv4', 'The first IPv4 address of interface <name>'],
  ['interfaces.<name>.ipv6', 'The first IPv6 address of interface <name>'],
  ['interfaces.<name>.mac', 'The MAC address of interface <name>'],
];

/** A fact key: dot-separated segments of letters, digits, `_` and `-`. */
export const FACT_KEY_PATTERN = '[A-Za-z0-9_-]+(?:\\.[A-Za-z0-9_-]+)*';
