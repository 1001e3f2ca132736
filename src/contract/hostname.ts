// Setting a host's name, wire contract: what node.hostname.update takes and
// what an agent answers. The request is the reference's
// (HostnameUpdateRequest: `hostname`); the result says more than its
// `changed`: the name set, and the name the agent still answers to.
import { type Static, Type } from 'typebox';

/** RFC 1123 labels joined by dots; the kernel keeps at most 64 characters. */
const LABEL = '[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
export const HOST_NAME_PATTERN = `^${LABEL}(\\.${LABEL})*$`;
export const HOST_NAME_MAX = 64;
export const HOST_NAME_EXPECTED =
  "must be a host name: labels of letters, digits and '-' (not first or last) joined by dots, at most 64 characters (e.g. web-01 or web-01.example.com)";

export const HostnameUpdateData = Type.Object(
  {
    hostname: Type.String({
      minLength: 1,
      maxLength: HOST_NAME_MAX,
      pattern: HOST_NAME_PATTERN,
      description: "The new host name (e.g. web-01): the kernel's name and /etc/hostname.",
    }),
  },
  { additionalProperties: false, examples: [{ hostname: 'web-01' }] },
);
export type HostnameUpdateData = Static<typeof HostnameUpdateData>;

export const HostnameUpdateResult = Type.Object({
  name: Type.String({ description: 'The host name now set.' }),
  changed: Type.Boolean({
    description: 'False when the host already had this name: nothing was written.',
  }),
  agent_hostname: Type.String({
    description:
      'The name the agent takes jobs under from now on: the new name where the agent is named after its host (agent.hostname not set; it re-registers under it once this answer is stored), else its configured agent.hostname, unchanged.',
  }),
});
export type HostnameUpdateResult = Static<typeof HostnameUpdateResult>;
