// Node information and network operations (wire contract): the schema of
// each one's data and of what an agent answers. Their declarations
// (operations.ts) name them; the API validates with these schemas and the
// agent checks the job it reads with the same ones, as for commands.
import { type Static, Type } from 'typebox';

// ---- job data ------------------------------------------------------------

/** The information operations take nothing: `{}`, and refuse unknown fields. */
export const NoData = Type.Object({}, { additionalProperties: false });

export const PingData = Type.Object(
  {
    address: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        'An IPv4 or IPv6 address to ping (e.g. 127.0.0.1 or ::1); hostnames are refused, so no name lookup happens on the hosts.',
    }),
  },
  { additionalProperties: false, examples: [{ address: '127.0.0.1' }, { address: '::1' }] },
);
export type PingData = Static<typeof PingData>;

/** Linux interface names are at most 15 bytes; letters and digits only are taken. */
export const INTERFACE_NAME_PATTERN = '^[A-Za-z0-9]{1,15}$';
export const INTERFACE_EXPECTED = 'must be 1 to 15 letters or digits (e.g. eth0)';

export const DnsGetData = Type.Object(
  { interface_name: Type.String({ pattern: INTERFACE_NAME_PATTERN }) },
  { additionalProperties: false },
);
export type DnsGetData = Static<typeof DnsGetData>;

/** glibc reads three nameservers; resolved takes more. A cap keeps a job small. */
export const DNS_MAX_SERVERS = 16;
export const DNS_MAX_SEARCH_DOMAINS = 32;

// Items and the interface name carry no pattern or length here: their meaning
// is checked in nodeDataProblems, so a 400 says what is expected (an address,
// a hostname) instead of a regular expression.
export const DnsUpdateData = Type.Object(
  {
    servers: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        maxItems: DNS_MAX_SERVERS,
        description: `DNS servers in order: IPv4 or IPv6 addresses (1..${DNS_MAX_SERVERS}); absent leaves the servers as they are.`,
      }),
    ),
    search_domains: Type.Optional(
      Type.Array(Type.String(), {
        maxItems: DNS_MAX_SEARCH_DOMAINS,
        description:
          'Search domains in order: hostnames such as corp.example; [] clears the list; absent leaves it as it is.',
      }),
    ),
    interface_name: Type.String({
      description: 'The network interface: 1 to 15 letters or digits (eth0).',
    }),
    override_dhcp: Type.Optional(
      Type.Boolean({
        description:
          "The reference's field, taken for its clients' sake: the servers set here already replace what DHCP gave the link (systemd-resolved), or the whole file (resolv.conf), until a DHCP client writes its own again; it changes nothing more (docs/api.md).",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'At least one of servers and search_domains.',
    examples: [
      {
        servers: ['192.0.2.53', '2001:db8::53'],
        search_domains: ['corp.example'],
        interface_name: 'eth0',
      },
      { search_domains: [], interface_name: 'eth0' },
    ],
  },
);
export type DnsUpdateData = Static<typeof DnsUpdateData>;

// ---- what an agent answers -------------------------------------------------

export const OsInfo = Type.Object({ distribution: Type.String(), version: Type.String() });
export const LoadAverage = Type.Object({
  '1min': Type.Number(),
  '5min': Type.Number(),
  '15min': Type.Number(),
});
export const Memory = Type.Object(
  {
    total: Type.Integer({ description: 'Bytes.' }),
    free: Type.Integer({ description: 'Bytes a new process can use (MemAvailable).' }),
    used: Type.Integer({ description: 'Bytes: total - free.' }),
  },
  { description: 'Memory in bytes.' },
);
export const Disk = Type.Object({
  name: Type.String({ description: 'The mount point.' }),
  total: Type.Integer({ description: 'Bytes.' }),
  used: Type.Integer({ description: 'Bytes in use (as df: total minus all free blocks).' }),
  free: Type.Integer({ description: 'Bytes available to unprivileged users (as df).' }),
  device: Type.String({ description: 'The mounted device or dataset.' }),
  fs_type: Type.String(),
});
export type Disk = Static<typeof Disk>;
const Uptime = Type.String({ description: 'A duration string, e.g. 3d4h5m6s.' });

export const StatusResult = Type.Object({
  uptime: Uptime,
  load_average: LoadAverage,
  memory: Memory,
  disks: Type.Array(Disk),
  os_info: OsInfo,
});
export const HostnameResult = Type.Object({
  labels: Type.Record(Type.String(), Type.String()),
  os_hostname: Type.String({
    description: "The kernel's hostname, which agent.hostname may override.",
  }),
});
export const DiskResult = Type.Object({ disks: Type.Array(Disk) });
export const MemoryResult = Type.Object({ memory: Memory });
export const LoadResult = Type.Object({ load_average: LoadAverage });
export const OsResult = Type.Object({ os_info: OsInfo });
export const UptimeResult = Type.Object({ uptime: Uptime });
const Rtt = Type.String({
  description: 'A duration string, e.g. 58µs or 1.234ms; 0s without replies.',
});
export const PingResult = Type.Object({
  packets_sent: Type.Integer(),
  packets_received: Type.Integer(),
  packet_loss: Type.Number({ description: 'Percent of packets lost, 0..100.' }),
  min_rtt: Rtt,
  avg_rtt: Rtt,
  max_rtt: Rtt,
});
export const DnsResult = Type.Object({
  servers: Type.Array(Type.String()),
  search_domains: Type.Array(Type.String()),
  /** Where it was read: `systemd-resolved` or the resolv.conf path. */
  source: Type.String(),
});
export const DnsUpdateResult = Type.Object({
  changed: Type.Boolean({
    description: 'False when the configuration already was that: nothing was written.',
  }),
  source: Type.String({
    description: 'Where it was written: `systemd-resolved` or the resolv.conf path.',
  }),
});
