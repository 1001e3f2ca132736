// Kernel parameters (sysctl) on the hosts, wire contract: what each sysctl
// operation takes and what an agent answers. Names and fields are the
// reference's (SysctlCreateRequest, SysctlEntry, SysctlMutationResult), with
// `live` and `managed` added to an entry.
import { type Static, Type } from 'typebox';

/** Dot-separated, at least two parts, nothing a path could climb out with. */
export const SYSCTL_KEY_PATTERN = '^[a-z0-9_]+(\\.[a-z0-9_-]+)+$';
export const SYSCTL_KEY_EXPECTED =
  "must be a sysctl key: lowercase letters, digits and '_' parts joined by dots, later parts may hold '-' (e.g. net.ipv4.ip_forward)";
export const SYSCTL_KEY_MAX = 255;

/** Printable ASCII, spaces and tabs inside only: one line of the sysctl file. */
export const SYSCTL_VALUE_PATTERN = '^[!-~](?:[ -~\\t]*[!-~])?$';
export const SYSCTL_VALUE_EXPECTED =
  'must be printable ASCII on one line (spaces or tabs between fields), not starting or ending with whitespace';
export const SYSCTL_VALUE_MAX = 1024;

const SysctlKey = Type.String({
  pattern: SYSCTL_KEY_PATTERN,
  maxLength: SYSCTL_KEY_MAX,
  description:
    'The parameter, as sysctl names it: e.g. net.ipv4.ip_forward. It must exist on the host.',
});

const SysctlValue = Type.String({
  pattern: SYSCTL_VALUE_PATTERN,
  maxLength: SYSCTL_VALUE_MAX,
  description:
    'The value, as sysctl takes it: e.g. 1, or `32768\t60999` for a parameter of several fields.',
});

export const SysctlKeyData = Type.Object({ key: SysctlKey }, { additionalProperties: false });
export type SysctlKeyData = Static<typeof SysctlKeyData>;

export const SysctlSetData = Type.Object(
  { key: SysctlKey, value: SysctlValue },
  { additionalProperties: false, examples: [{ key: 'net.ipv4.ip_forward', value: '1' }] },
);
export type SysctlSetData = Static<typeof SysctlSetData>;

export const SysctlEntry = Type.Object(
  {
    key: Type.String(),
    value: Type.Optional(
      Type.String({
        description:
          'The persisted value (applied at boot); absent when this system does not manage the key.',
      }),
    ),
    live: Type.String({ description: 'The value the kernel has now.' }),
    managed: Type.Boolean({ description: 'True when the key is in the file this system writes.' }),
  },
  { description: 'A sysctl parameter: its persisted and its live value.' },
);
export type SysctlEntry = Static<typeof SysctlEntry>;

export const SysctlListResult = Type.Object({ entries: Type.Array(SysctlEntry) });
/** A get answers the parameter's own fields, as the reference's SysctlEntry has them. */
export const SysctlGetResult = SysctlEntry;
export const SysctlMutationResult = Type.Object({
  key: Type.String(),
  changed: Type.Boolean({
    description:
      'False when the key was already persisted and live with this value: nothing was written.',
  }),
});
export type SysctlMutationResult = Static<typeof SysctlMutationResult>;
