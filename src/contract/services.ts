// Services (systemd units) on the hosts, wire contract: what each service
// operation takes and what an agent answers. The names and fields are the
// reference's (ServiceInfo, ServiceCreateRequest, ...), with a few more where
// ours says more (sub_state, load_state, unit_file_state, managed).
import { type Static, Type } from 'typebox';
import { OBJECT_NAME_PATTERN } from './file.js';

// ---- names -----------------------------------------------------------------

/** systemd's own bound on a unit name, its suffix included. */
export const SERVICE_NAME_MAX = 255;
const SERVICE_SUFFIX = '.service';
const NAME_CHARS = /^[A-Za-z0-9:_.@-]+$/;
/** Suffixes of the other unit types: a name ending in one of these is not a service. */
const OTHER_UNIT_TYPES = [
  'socket',
  'target',
  'timer',
  'mount',
  'automount',
  'swap',
  'path',
  'slice',
  'scope',
  'device',
];

export const SERVICE_NAME_EXPECTED = `must be a service name: letters, digits and : _ . @ -, not starting with '-' or '.', at most one '@' and not first, at most ${SERVICE_NAME_MAX} characters with .service (e.g. nginx or nginx.service)`;

/**
 * `nginx` → `nginx.service`, as systemctl reads a name without a unit
 * type; `nginx.service` stays as it is. Only for a name that passed
 * serviceNameProblem.
 */
export function normalServiceName(name: string): string {
  return name.endsWith(SERVICE_SUFFIX) ? name : `${name}${SERVICE_SUFFIX}`;
}

/**
 * Why `name` is not a service name this system takes, or null. Nothing that
 * passes can be read as an option (no leading '-') or leave the unit
 * directory (no '/', no leading '.').
 */
export function serviceNameProblem(name: string): string | null {
  if (!NAME_CHARS.test(name) || name.startsWith('-') || name.startsWith('.')) {
    return SERVICE_NAME_EXPECTED;
  }
  const at = name.indexOf('@');
  if (at === 0 || (at > 0 && name.indexOf('@', at + 1) !== -1)) return SERVICE_NAME_EXPECTED;
  const type = /\.([a-z]+)$/.exec(name)?.[1];
  if (type !== undefined && OTHER_UNIT_TYPES.includes(type)) {
    return `names a ${type} unit: only services (.service) are managed here`;
  }
  const full = normalServiceName(name);
  if (full === SERVICE_SUFFIX) return SERVICE_NAME_EXPECTED;
  if (full.length > SERVICE_NAME_MAX) return SERVICE_NAME_EXPECTED;
  return null;
}

// ---- job data --------------------------------------------------------------

// Its characters and form are checked in data-checks.ts (serviceNameProblem), so
// a 400 says what a service name is rather than a regular expression.
const ServiceName = Type.String({
  minLength: 1,
  maxLength: SERVICE_NAME_MAX,
  description:
    "The service: nginx or nginx.service (a name without .service gets it). Letters, digits and : _ . @ -, not starting with '-' or '.'.",
});

const ObjectName = Type.String({
  pattern: OBJECT_NAME_PATTERN,
  description: 'The stored object (POST /file) whose content is the unit file.',
});

const ObjectSha256 = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description:
    "The object's SHA-256 as the API saw it when it accepted the job: the agent writes no other content.",
});

/** The operations on one service that take nothing else: get, delete, start, stop, ... */
export const ServiceNameData = Type.Object({ name: ServiceName }, { additionalProperties: false });
export type ServiceNameData = Static<typeof ServiceNameData>;

export const ServiceCreateRequest = Type.Object(
  { name: ServiceName, object: ObjectName },
  { additionalProperties: false, examples: [{ name: 'hello.service', object: 'hello.service' }] },
);
export const ServiceCreateData = Type.Object(
  { ...ServiceCreateRequest.properties, object_sha256: ObjectSha256 },
  { additionalProperties: false },
);
export type ServiceCreateData = Static<typeof ServiceCreateData>;

export const ServiceUpdateRequest = Type.Object(
  { name: ServiceName, object: ObjectName },
  { additionalProperties: false },
);
export const ServiceUpdateData = Type.Object(
  { ...ServiceUpdateRequest.properties, object_sha256: ObjectSha256 },
  { additionalProperties: false },
);
export type ServiceUpdateData = Static<typeof ServiceUpdateData>;

// ---- what an agent answers ---------------------------------------------------

export const ServiceInfo = Type.Object(
  {
    name: Type.String({
      description: "The unit's id, e.g. nginx.service (an alias gives the unit it names).",
    }),
    status: Type.String({
      description: 'ActiveState: active, inactive, failed, activating, deactivating, reloading.',
    }),
    sub_state: Type.String({ description: 'SubState: running, exited, dead, failed, ...' }),
    load_state: Type.String({
      description: 'LoadState: loaded, masked, bad-setting, error, ...',
    }),
    enabled: Type.Boolean({
      description:
        'True when the unit file state is enabled or enabled-runtime: it starts at boot.',
    }),
    unit_file_state: Type.String({
      description:
        'UnitFileState: enabled, enabled-runtime, disabled, static, masked, indirect, generated, ...; empty for a unit without a unit file (transient).',
    }),
    description: Type.String(),
    pid: Type.Integer({
      minimum: 0,
      description: 'MainPID: the main process; 0 when there is none.',
    }),
    managed: Type.Boolean({
      description:
        'True for a unit file service.create wrote (in agent.services.unit_dir, marked): service.update and service.delete touch only these.',
    }),
  },
  { description: 'A systemd service.' },
);
export type ServiceInfo = Static<typeof ServiceInfo>;

export const ServiceListResult = Type.Object({ services: Type.Array(ServiceInfo) });
export const ServiceGetResult = Type.Object({ service: ServiceInfo });
export const ServiceMutationResult = Type.Object({
  name: Type.String({ description: 'The service, with its .service suffix.' }),
  changed: Type.Boolean({
    description: 'False when the service already was as asked: nothing was done.',
  }),
});
export type ServiceMutationResult = Static<typeof ServiceMutationResult>;
