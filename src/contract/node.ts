// Wire schemas of the node information and network routes: the
// answer is `{job_id, results: [...]}`, one item per agent, each the agent's
// result for the operation (node-operations.ts) beside its hostname.
import { type Static, type TObject, type TProperties, Type } from 'typebox';
import {
  DiskResult,
  DnsResult,
  HostnameResult,
  LoadResult,
  MemoryResult,
  OsResult,
  PingResult,
  StatusResult,
  UptimeResult,
} from './node-operations.js';

export {
  DnsUpdateData as DnsUpdateRequest,
  PingData as PingRequest,
} from './node-operations.js';

export const NodeParams = Type.Object({
  hostname: Type.String({
    description: 'Target: _any, _all, a hostname, or a label key:value (e.g. group:web.dev).',
  }),
});

export const DnsParams = Type.Object({
  hostname: NodeParams.properties.hostname,
  // Checked by the route (letters and digits, 1..15), so the 400 says what is expected.
  interfaceName: Type.String({ description: 'The network interface: letters and digits (eth0).' }),
});

/**
 * One agent's item: its hostname, how its run ended and, when it could not do
 * it, why; the result's fields are there when it could.
 */
function item<P extends TProperties>(result: TObject<P>) {
  return Type.Object({
    hostname: Type.String(),
    ...Type.Partial(result).properties,
    /** Ours, as for commands: `no_answer` for an expected agent that stayed silent. */
    status: Type.Union([
      Type.Literal('completed'),
      Type.Literal('failed'),
      Type.Literal('no_answer'),
    ]),
    error: Type.Optional(Type.String()),
  });
}

function answer<P extends TProperties>(result: TObject<P>) {
  return Type.Object({
    job_id: Type.String({ format: 'uuid' }),
    results: Type.Array(item(result)),
  });
}

export const StatusResponse = answer(StatusResult);
export const HostnameResponse = answer(HostnameResult);
export const DiskResponse = answer(DiskResult);
export const MemoryResponse = answer(MemoryResult);
export const LoadResponse = answer(LoadResult);
export const OsResponse = answer(OsResult);
export const UptimeResponse = answer(UptimeResult);
export const PingResponse = answer(PingResult);
export const DnsResponse = answer(DnsResult);

export type StatusResponse = Static<typeof StatusResponse>;
export type HostnameResponse = Static<typeof HostnameResponse>;
export type DiskResponse = Static<typeof DiskResponse>;
export type MemoryResponse = Static<typeof MemoryResponse>;
export type LoadResponse = Static<typeof LoadResponse>;
export type OsResponse = Static<typeof OsResponse>;
export type UptimeResponse = Static<typeof UptimeResponse>;
export type PingResponse = Static<typeof PingResponse>;
export type DnsResponse = Static<typeof DnsResponse>;

/** Any of the answers above: what the routes build before Fastify serializes it. */
export interface NodeAnswer {
  job_id: string;
  results: Array<{
    hostname: string;
    status: 'completed' | 'failed' | 'no_answer';
    error?: string;
    [field: string]: unknown;
  }>;
}

// ---- PUT /node/{target}/network/dns -----------------------------------------

const DnsUpdateItem = Type.Object({
  hostname: Type.String(),
  /** `no_answer` is ours, as on every node route: an expected agent that stayed silent. */
  status: Type.Union([Type.Literal('ok'), Type.Literal('failed'), Type.Literal('no_answer')]),
  changed: Type.Boolean({
    description:
      'True when the host now has a configuration it did not have; false when it already was that, or when the update failed (error says why).',
  }),
  source: Type.Optional(
    Type.String({
      description: 'Where it was written: `systemd-resolved` or the resolv.conf path.',
    }),
  ),
  error: Type.Optional(Type.String()),
});

export const DnsUpdateResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  results: Type.Array(DnsUpdateItem),
});
export type DnsUpdateResponse = Static<typeof DnsUpdateResponse>;
