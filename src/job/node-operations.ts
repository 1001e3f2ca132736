// Node information and network job operations (issue 9): their type names,
// the schema of each one's data, the schema of what an agent answers, and the
// NATS category each travels on. The API validates with these schemas and the
// agent checks the job it reads with the same ones, as for commands.
import { isIP } from 'node:net';
import { type Static, type TSchema, Type } from 'typebox';
import { Compile } from 'typebox/compile';

export const NODE_OPERATION_TYPES = [
  'node.status.get',
  'node.hostname.get',
  'node.disk.get',
  'node.memory.get',
  'node.load.get',
  'node.os.get',
  'node.uptime.get',
  'network.ping.do',
  'network.dns.get',
] as const;
export type NodeOperationType = (typeof NODE_OPERATION_TYPES)[number];

export function isNodeOperation(type: string): type is NodeOperationType {
  return (NODE_OPERATION_TYPES as readonly string[]).includes(type);
}

/**
 * Every one of them only reads the host (a ping sends packets but changes no
 * state), so all travel on `jobs.query.*`, as the reference sends them.
 */
export function nodeOperationCategory(_type: NodeOperationType): 'query' {
  return 'query';
}

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

/** Linux interface names are at most 15 bytes; the reference allows letters and digits only. */
export const INTERFACE_NAME_PATTERN = '^[A-Za-z0-9]{1,15}$';
const INTERFACE_NAME_RE = new RegExp(INTERFACE_NAME_PATTERN);

export const DnsGetData = Type.Object(
  { interface_name: Type.String({ pattern: INTERFACE_NAME_PATTERN }) },
  { additionalProperties: false },
);
export type DnsGetData = Static<typeof DnsGetData>;

export const NODE_DATA_SCHEMAS = {
  'node.status.get': NoData,
  'node.hostname.get': NoData,
  'node.disk.get': NoData,
  'node.memory.get': NoData,
  'node.load.get': NoData,
  'node.os.get': NoData,
  'node.uptime.get': NoData,
  'network.ping.do': PingData,
  'network.dns.get': DnsGetData,
} as const satisfies Record<NodeOperationType, TSchema>;
export type NodeData<T extends NodeOperationType> = Static<(typeof NODE_DATA_SCHEMAS)[T]>;

const checkers = Object.fromEntries(
  NODE_OPERATION_TYPES.map((t) => [t, Compile(NODE_DATA_SCHEMAS[t])]),
) as Record<NodeOperationType, ReturnType<typeof Compile>>;

export interface DataProblem {
  /** The field at fault, as a dotted path inside the data (`address`), or '' for the whole. */
  field: string;
  message: string;
}

/** True for a literal IPv4 or IPv6 address, without a zone (`%eth0`) or brackets. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0 && !s.includes('%');
}

export function isInterfaceName(s: string): boolean {
  return INTERFACE_NAME_RE.test(s);
}

export const ADDRESS_EXPECTED =
  'must be an IPv4 or IPv6 address (e.g. 127.0.0.1 or ::1), not a hostname';
export const INTERFACE_EXPECTED = 'must be 1 to 15 letters or digits (e.g. eth0)';

/**
 * Everything wrong with an operation's data, schema and meaning alike, so the
 * API refuses it with a 400 naming the field and the agent refuses it too.
 */
export function nodeDataProblems(type: NodeOperationType, data: unknown): DataProblem[] {
  const check = checkers[type];
  if (!check.Check(data)) {
    const seen = new Set<string>();
    return [...check.Errors(data)]
      .map((e) => {
        const params = e.params as Record<string, unknown>;
        const path = e.instancePath.split('/').filter(Boolean).join('.');
        if (params.requiredProperties !== undefined) {
          return {
            field: [path, String(params.requiredProperties)].filter(Boolean).join('.'),
            message: 'is required',
          };
        }
        if (params.additionalProperties !== undefined || e.message === 'schema is false') {
          const extra = params.additionalProperties ?? '';
          return {
            field: [path, String(extra)].filter(Boolean).join('.'),
            message: 'is not a known field',
          };
        }
        if (path === 'interface_name' && e.keyword === 'pattern') {
          return { field: path, message: INTERFACE_EXPECTED };
        }
        return { field: path, message: e.message };
      })
      .filter((p) => !seen.has(p.field) && seen.add(p.field))
      .slice(0, 10);
  }
  if (type === 'network.ping.do' && !isIpAddress((data as PingData).address)) {
    return [{ field: 'address', message: ADDRESS_EXPECTED }];
  }
  return [];
}

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

export const NODE_RESULT_SCHEMAS = {
  'node.status.get': StatusResult,
  'node.hostname.get': HostnameResult,
  'node.disk.get': DiskResult,
  'node.memory.get': MemoryResult,
  'node.load.get': LoadResult,
  'node.os.get': OsResult,
  'node.uptime.get': UptimeResult,
  'network.ping.do': PingResult,
  'network.dns.get': DnsResult,
} as const satisfies Record<NodeOperationType, TSchema>;

export type NodeResult<T extends NodeOperationType> = Static<(typeof NODE_RESULT_SCHEMAS)[T]>;
