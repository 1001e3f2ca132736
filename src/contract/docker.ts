// Docker containers and images on the hosts, wire contract: what each docker
// operation takes and what an agent answers. Names and fields are the
// reference's (DockerCreateRequest, DockerStopRequest, DockerExecRequest,
// DockerPullRequest; DockerResponse, DockerSummary, DockerDetailResponse,
// DockerActionResultItem, DockerExecResultItem, DockerPullResultItem), with
// `restart_policy` on create, a `timeout` and truncation flags on exec, and
// `restart_policy` and `command` on inspect added.
import { type Static, Type } from 'typebox';
import { TIMEOUT_DEFAULT_S, TIMEOUT_MAX_S } from './command.js';

/** A container's id (hex) or name, as the Engine takes either: no leading '-', '.' or '_'. */
export const CONTAINER_REF_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';
export const CONTAINER_REF_EXPECTED =
  "must be a container id or name: 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";

/** A name the Engine gives a new container: at least two characters. */
export const CONTAINER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{1,127}$';
export const CONTAINER_NAME_EXPECTED =
  "must be 2 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";

// An image reference as the Engine's grammar has it: an optional registry
// host (with a port), path components of lowercase letters and digits joined
// by '.', '_', '__' or dashes (never '..', never leading), an optional tag,
// an optional sha256 digest. An image id is `sha256:<hex>` or its hex.
const DOMAIN_PART = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]{1,5})?`;
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
export const IMAGE_REF_PATTERN = `^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@sha256:[a-f0-9]{64})?$`;
export const IMAGE_REF_EXPECTED =
  'must be an image reference: [registry/]name[:tag][@sha256:digest], lowercase path parts of letters and digits joined by ".", "_" or "-" (e.g. debian:12 or registry.example.com:5000/team/app:1.2), or an image id';
export const IMAGE_REF_MAX = 255;

/** `[ip:]host_port:container_port[/tcp|udp|sctp]`. */
export const PORT_PATTERN =
  '^(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}:)?[0-9]{1,5}:[0-9]{1,5}(?:/(?:tcp|udp|sctp))?$';
export const PORT_EXPECTED =
  'must be host_port:container_port, optionally with /tcp, /udp or /sctp and a host IPv4 address first (e.g. 8080:80/tcp or 127.0.0.1:8080:80), ports 1 to 65535';

/** `host_path_or_volume:container_path[:ro|rw]`; paths absolute, no ':' or ',' inside. */
export const VOLUME_PATTERN =
  '^(?:/[^:,\\u0000-\\u001f]*|[A-Za-z0-9][A-Za-z0-9_.-]{1,127}):/[^:,\\u0000-\\u001f]*(?::(?:ro|rw))?$';
export const VOLUME_EXPECTED =
  "must be host_path:container_path or volume_name:container_path, optionally with :ro or :rw; paths absolute and normalised (no '.' or '..' segments), without ':' or ','";

/** `NAME=value`: a variable name, then any text but NUL. */
export const ENV_ENTRY_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*=[^\\u0000]*$';
export const ENV_ENTRY_EXPECTED =
  'must be NAME=value, the name of letters, digits and _, not starting with a digit; no NUL bytes';

/** A container's hostname: DNS labels joined by dots. */
export const CONTAINER_HOSTNAME_PATTERN =
  '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
export const CONTAINER_HOSTNAME_EXPECTED =
  "must be a hostname: labels of letters, digits and '-' joined by dots";

/** An argument handed to a program: any text but NUL. */
const ARG_PATTERN = '^[^\\u0000]*$';
/** A program: not blank, no NUL. */
const PROGRAM_PATTERN = '^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$';
const WORKING_DIR_PATTERN = '^/[^\\u0000]*$';

/** What each pattern above means, for 400 messages. */
export const DOCKER_PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [CONTAINER_REF_PATTERN]: CONTAINER_REF_EXPECTED,
  [CONTAINER_NAME_PATTERN]: CONTAINER_NAME_EXPECTED,
  [IMAGE_REF_PATTERN]: IMAGE_REF_EXPECTED,
  [PORT_PATTERN]: PORT_EXPECTED,
  [VOLUME_PATTERN]: VOLUME_EXPECTED,
  [ENV_ENTRY_PATTERN]: ENV_ENTRY_EXPECTED,
  [CONTAINER_HOSTNAME_PATTERN]: CONTAINER_HOSTNAME_EXPECTED,
  [ARG_PATTERN]: 'must not hold NUL bytes',
  [PROGRAM_PATTERN]: 'must not be blank or hold NUL bytes',
  [WORKING_DIR_PATTERN]: 'must be an absolute path without NUL bytes',
};

export const DOCKER_LIST_MAX = 64;
export const DOCKER_ARGS_MAX = 256;

const ContainerRef = Type.String({
  pattern: CONTAINER_REF_PATTERN,
  maxLength: 128,
  description: 'The container: its id (full or a unique prefix) or its name.',
});

const ImageRef = Type.String({
  pattern: IMAGE_REF_PATTERN,
  maxLength: IMAGE_REF_MAX,
  description: 'The image: [registry/]name[:tag][@sha256:digest], e.g. debian:12.',
});

const EnvList = Type.Array(Type.String({ pattern: ENV_ENTRY_PATTERN, maxLength: 32768 }), {
  maxItems: 128,
  description: 'Variables, each NAME=value.',
});

const Argv = Type.Array(Type.String({ pattern: ARG_PATTERN, maxLength: 65536 }), {
  maxItems: DOCKER_ARGS_MAX,
});

export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;

export const DockerCreateData = Type.Object(
  {
    image: ImageRef,
    name: Type.Optional(
      Type.String({
        pattern: CONTAINER_NAME_PATTERN,
        maxLength: 128,
        description:
          "The container's name. With a name, a second create is idempotent: a container of that name and image is left as it is (`changed: false`).",
      }),
    ),
    hostname: Type.Optional(Type.String({ pattern: CONTAINER_HOSTNAME_PATTERN, maxLength: 253 })),
    dns: Type.Optional(
      Type.Array(Type.String({ maxLength: 45 }), {
        maxItems: DOCKER_LIST_MAX,
        description: 'DNS server addresses (IPv4 or IPv6) for the container.',
      }),
    ),
    command: Type.Optional({
      ...Argv,
      description: "The command and its arguments, in place of the image's own.",
    }),
    env: Type.Optional(EnvList),
    ports: Type.Optional(
      Type.Array(Type.String({ pattern: PORT_PATTERN, maxLength: 40 }), {
        maxItems: DOCKER_LIST_MAX,
        description: 'Published ports, each host_port:container_port[/tcp|udp|sctp].',
      }),
    ),
    volumes: Type.Optional(
      Type.Array(Type.String({ pattern: VOLUME_PATTERN, maxLength: 8192 }), {
        maxItems: DOCKER_LIST_MAX,
        description: 'Bind mounts or named volumes, each host_path:container_path[:ro|rw].',
      }),
    ),
    auto_start: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'Start the container once created (default true).',
      }),
    ),
    restart_policy: Type.Optional(
      Type.Union(
        RESTART_POLICIES.map((p) => Type.Literal(p)),
        {
          description:
            'When the daemon restarts the container: no (default), always, unless-stopped, on-failure.',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ image: 'debian:12', name: 'web', command: ['sleep', 'infinity'] }],
  },
);
export type DockerCreateData = Static<typeof DockerCreateData>;

export const DockerListData = Type.Object(
  {
    state: Type.Optional(
      Type.Union([Type.Literal('running'), Type.Literal('stopped'), Type.Literal('all')], {
        description: 'Which containers: running, stopped, or all (default).',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many (newest first).' }),
    ),
  },
  { additionalProperties: false },
);
export type DockerListData = Static<typeof DockerListData>;

export const DockerIdData = Type.Object({ id: ContainerRef }, { additionalProperties: false });
export type DockerIdData = Static<typeof DockerIdData>;

export const DockerRemoveData = Type.Object(
  {
    id: ContainerRef,
    force: Type.Optional(
      Type.Boolean({ description: 'Remove a running container too (it is killed).' }),
    ),
  },
  { additionalProperties: false },
);
export type DockerRemoveData = Static<typeof DockerRemoveData>;

/** The longest a stop waits for the container to end before it is killed. */
export const STOP_TIMEOUT_MAX_S = 90;

export const DockerStopData = Type.Object(
  {
    id: ContainerRef,
    timeout: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: STOP_TIMEOUT_MAX_S,
        description: `Seconds to wait for the container to stop before it is killed (0..${STOP_TIMEOUT_MAX_S}, default 10).`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type DockerStopData = Static<typeof DockerStopData>;

/**
 * The stop's job data: the wait is `stop_timeout`, since a data field
 * `timeout` is how long the agent may take on the whole job.
 */
export const DockerStopJobData = Type.Object(
  {
    id: ContainerRef,
    stop_timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: STOP_TIMEOUT_MAX_S })),
  },
  { additionalProperties: false },
);
export type DockerStopJobData = Static<typeof DockerStopJobData>;

export function dockerStopJobData(input: Record<string, unknown>): DockerStopJobData {
  const { id, timeout } = input as { id: string; timeout?: number };
  return { id, ...(timeout !== undefined ? { stop_timeout: timeout } : {}) };
}

export const DockerExecData = Type.Object(
  {
    id: ContainerRef,
    command: Type.Array(Type.String({ pattern: ARG_PATTERN, maxLength: 65536 }), {
      minItems: 1,
      maxItems: DOCKER_ARGS_MAX,
      description:
        'The program and its arguments, run inside the container without a shell. A role with a command policy may run only what its exec patterns allow, as for command exec.',
    }),
    env: Type.Optional(EnvList),
    working_dir: Type.Optional(
      Type.String({
        pattern: WORKING_DIR_PATTERN,
        maxLength: 4096,
        description: 'Inside the container.',
      }),
    ),
    timeout: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: TIMEOUT_MAX_S,
        description: `Seconds before the command is killed (1..${TIMEOUT_MAX_S}, default ${TIMEOUT_DEFAULT_S}), as for command exec.`,
      }),
    ),
  },
  { additionalProperties: false, examples: [{ id: 'web', command: ['cat', '/etc/hostname'] }] },
);
export type DockerExecData = Static<typeof DockerExecData>;

export const DockerImageData = Type.Object(
  {
    image: ImageRef,
    force: Type.Optional(
      Type.Boolean({ description: 'Remove it even when containers use it or it has other tags.' }),
    ),
  },
  { additionalProperties: false },
);
export type DockerImageData = Static<typeof DockerImageData>;

export const DockerPullData = Type.Object({ image: ImageRef }, { additionalProperties: false });
export type DockerPullData = Static<typeof DockerPullData>;

const Changed = (when: string) => Type.Boolean({ description: when });

export const DockerSummary = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    image: Type.String(),
    state: Type.String({ description: 'created, running, paused, restarting, exited, dead.' }),
    created: Type.String({ description: 'When it was created (RFC 3339).' }),
  },
  { description: 'Brief container summary.' },
);
export type DockerSummary = Static<typeof DockerSummary>;

/** DockerResponse: the container create made, or found. */
export const DockerCreateResult = Type.Object({
  ...DockerSummary.properties,
  changed: Changed('False when a container of this name and image was there already.'),
});
export type DockerCreateResult = Static<typeof DockerCreateResult>;

export const DockerListResult = Type.Object({ containers: Type.Array(DockerSummary) });
export type DockerListResult = Static<typeof DockerListResult>;

export const DockerDetailResult = Type.Object({
  ...DockerSummary.properties,
  ports: Type.Array(Type.String(), {
    description: 'Published ports, host_port:container_port/proto.',
  }),
  mounts: Type.Array(Type.String(), { description: 'source:destination[:ro].' }),
  env: Type.Array(Type.String()),
  network_settings: Type.Record(Type.String(), Type.Unknown(), {
    description: 'The network mode and, per network, its addresses.',
  }),
  health: Type.Optional(
    Type.String({
      description: 'starting, healthy or unhealthy, where the image has a health check.',
    }),
  ),
  restart_policy: Type.Optional(Type.String()),
  command: Type.Optional(Type.Array(Type.String())),
});
export type DockerDetailResult = Static<typeof DockerDetailResult>;

/** DockerActionResultItem: start, stop, remove, image remove. */
export const DockerActionResult = Type.Object({
  id: Type.String(),
  message: Type.String(),
  changed: Changed('False when the container or image was already in the state asked for.'),
});
export type DockerActionResult = Static<typeof DockerActionResult>;

export const DockerExecResult = Type.Object({
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Integer(),
  stdout_truncated: Type.Boolean({
    description: 'True when stdout passed the output cap and was cut.',
  }),
  stderr_truncated: Type.Boolean({
    description: 'True when stderr passed the output cap and was cut.',
  }),
  changed: Changed('Always true: a command ran, and what it did is not known.'),
});
export type DockerExecResult = Static<typeof DockerExecResult>;

export const DockerPullResult = Type.Object({
  image_id: Type.String(),
  tag: Type.String(),
  size: Type.Integer({ description: 'Bytes.' }),
  changed: Changed('False when the host already had this image with the same id.'),
});
export type DockerPullResult = Static<typeof DockerPullResult>;
