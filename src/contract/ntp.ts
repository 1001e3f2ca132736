// Time synchronisation (NTP through chrony) on the hosts, wire contract. Names
// and fields are the reference's (NtpCreateRequest, NtpStatusEntry,
// NtpMutationResult), with `sources` added: what chrony says of each source.
import { type Static, Type } from 'typebox';

/** Most servers one request may configure. */
export const NTP_SERVERS_MAX = 16;

export const NTP_SERVER_EXPECTED =
  "must be an IPv4 or IPv6 address or a hostname (labels of letters, digits and inner '-' joined by dots)";

const Servers = Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
  minItems: 1,
  maxItems: NTP_SERVERS_MAX,
  description: `The NTP servers chrony uses (1 to ${NTP_SERVERS_MAX}): addresses or hostnames, e.g. 0.pool.ntp.org.`,
});

export const NtpServersData = Type.Object(
  { servers: Servers },
  { additionalProperties: false, examples: [{ servers: ['0.pool.ntp.org', '1.pool.ntp.org'] }] },
);
export type NtpServersData = Static<typeof NtpServersData>;

export const NtpSource = Type.Object({
  address: Type.String(),
  mode: Type.String({ description: 'chrony: ^ a server, = a peer, # a local reference clock.' }),
  state: Type.String({
    description:
      'chrony: * synchronised to, + combined, - not combined, ? unreachable, x in error, ~ too variable.',
  }),
  stratum: Type.Integer(),
});

export const NtpStatus = Type.Object({
  synchronized: Type.Boolean({
    description: "True unless chrony's leap status is 'Not synchronised'.",
  }),
  stratum: Type.Integer(),
  offset: Type.String({
    description: "The last measured offset of the system clock, in seconds (chrony's Last offset).",
  }),
  current_source: Type.String({
    description: 'The address of the source the clock is synchronised to.',
  }),
  servers: Type.Array(Type.String(), { description: 'The servers this system configured.' }),
  sources: Type.Array(NtpSource, { description: 'Every source chrony has, configured anywhere.' }),
});
export type NtpStatus = Static<typeof NtpStatus>;

export const NtpMutationResult = Type.Object({
  changed: Type.Boolean({
    description: 'False when the servers already were as asked: nothing was written.',
  }),
});
