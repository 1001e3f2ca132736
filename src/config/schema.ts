// The one schema for OSAPI's configuration: it validates the file, env and flag values, carries the
// defaults, descriptions and error wording, and yields both the file-facing and the loaded TS types.
import { isIP } from 'node:net';
import { type Static, type StaticDecode, type TSchema, Type } from 'typebox';
import { AGENT_NAME_PATTERN } from '../contract/agent-name.js';
import { DEFAULT_STREAM_SUBJECTS } from '../names/names.js';
import { DURATION_EXPECTED, DURATION_PATTERN, formatDuration, parseDuration } from './duration.js';

/**
 * Extra annotations this module puts on schema nodes. `expected` is the phrase used in error
 * messages ("expected <expected>, got ..."), `secret` hides the value in messages and logs,
 * `duration` marks a string that is converted to milliseconds on load.
 */
export interface ConfigAnnotations {
  description?: string;
  expected?: string;
  expectedKey?: string;
  secret?: boolean;
  duration?: boolean;
  default?: unknown;
}

/** Reads our annotations off any schema node. */
export function annotations(schema: TSchema): ConfigAnnotations {
  return schema as ConfigAnnotations;
}

const NAME_SEGMENT = '[A-Za-z0-9_-]+';
const LABEL_KEY_PATTERN = `^${NAME_SEGMENT}$`;
const LABEL_VALUE_PATTERN = `^${NAME_SEGMENT}(?:\\.${NAME_SEGMENT})*$`;
// nats://host[:port], tls://host[:port] (with optional user info), or a bare host:port.
const NATS_SERVER_PATTERN =
  '^(?:(?:nats|tls)://\\S+|[A-Za-z0-9_.-]+:[0-9]{1,5}|\\[[0-9A-Fa-f:.]+\\]:[0-9]{1,5})$';

// nats-route://host:port (or nats://), optionally with user info; the port is required.
const NATS_ROUTE_PATTERN =
  '^(?:nats-route|nats)://(?:[^\\s@/]+@)?(?:[A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\]):[0-9]{1,5}$';

// ---------------------------------------------------------------------------------------------
// Leaf helpers: each one fixes the type, the default, the description and the error wording.

function Str(def: string, description: string, opts: { secret?: boolean } = {}) {
  return Type.String({ default: def, description, expected: 'a string', ...opts });
}

function Bool(def: boolean, description: string) {
  return Type.Boolean({ default: def, description, expected: 'a boolean (true or false)' });
}

function Int(def: number, min: number, max: number | undefined, description: string) {
  const expected =
    max === undefined
      ? min === 0
        ? 'a non-negative integer'
        : `an integer >= ${min}`
      : `an integer ${min}..${max}`;
  return Type.Integer({
    default: def,
    minimum: min,
    ...(max === undefined ? {} : { maximum: max }),
    description,
    expected,
  });
}

/** A TCP port; 0 asks the OS for a free one (useful in tests). */
function Port(def: number, description: string) {
  return Int(def, 0, 65535, description);
}

function Replicas(description: string) {
  return Int(1, 1, 5, description);
}

function OneOf<const V extends string[]>(values: [...V], def: V[number], description: string) {
  return Type.Enum(values, {
    default: def,
    description,
    expected: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
  });
}

function Storage(description: string) {
  return OneOf(['file', 'memory'], 'file', description);
}

const decodeDuration = (s: string): number => parseDuration(s);
const encodeDuration = (ms: number): string => formatDuration(ms);

/**
 * A duration: a Go-style string in the file, env and flags, an integer number of milliseconds in
 * the loaded config (Static gives `string`, StaticDecode gives `number`).
 */
export function Duration(def: string | undefined, description: string) {
  return Type.Codec(
    Type.String({
      pattern: DURATION_PATTERN,
      ...(def === undefined ? {} : { default: def }),
      description,
      expected: DURATION_EXPECTED,
      duration: true,
    }),
  )
    .Decode(decodeDuration)
    .Encode(encodeDuration);
}

/** A duration that must be above zero: a timeout of 0 would mean none at all. */
function PositiveDuration(def: string, description: string) {
  return Type.Codec(
    Type.String({
      // The duration pattern, less the spellings of zero ("0", "0s", "00ms"...).
      pattern: `^(?!(?:0+(?:ms|s|m|h|d)?)+$)${DURATION_PATTERN.slice(1)}`,
      default: def,
      description,
      expected: 'a duration above zero, like 500ms, 10s or 2m',
      duration: true,
    }),
  )
    .Decode(decodeDuration)
    .Encode(encodeDuration);
}

function StringList(def: string[], description: string, expected = 'a list of strings') {
  return Type.Array(Type.String({ expected: 'a string' }), { default: def, description, expected });
}

function NatsServers(description: string) {
  return Type.Array(
    Type.String({
      pattern: NATS_SERVER_PATTERN,
      expected: 'a NATS URL (nats://host:port, tls://host:port or host:port)',
    }),
    {
      default: [],
      description,
      expected: 'a list of NATS URLs (nats://host:port, tls://host:port or host:port)',
    },
  );
}

function NatsRoutes(description: string) {
  return Type.Array(
    Type.String({
      pattern: NATS_ROUTE_PATTERN,
      expected: 'a route URL (nats-route://host:port or nats://host:port)',
    }),
    {
      default: [],
      description,
      expected: 'a list of route URLs (nats-route://host:port or nats://host:port)',
    },
  );
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** An origin exactly as a browser sends it in `Origin`: scheme, host, a port only when not the default. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

const ORIGIN_EXPECTED =
  'an origin such as https://console.example.com (scheme and host in lower case, a port only when not the default; no path, no trailing "/", no "*")';

function Origins(description: string) {
  return Type.Array(
    Type.Refine(
      Type.String({ expected: ORIGIN_EXPECTED }),
      isOrigin,
      () => `expected ${ORIGIN_EXPECTED}`,
    ),
    { default: [], description, expected: `a list of origins, each ${ORIGIN_EXPECTED}` },
  );
}

const PROXY_EXPECTED = 'an IP address or a CIDR range (10.0.0.5, 10.0.0.0/8, ::1)';

/** An address or CIDR range of a reverse proxy (Fastify's trustProxy takes both). */
function isProxyAddress(v: string): boolean {
  const [ip, bits, ...rest] = v.split('/');
  if (rest.length > 0 || !ip) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

function ProxyAddresses(description: string) {
  return Type.Array(
    Type.Refine(
      Type.String({ expected: PROXY_EXPECTED }),
      isProxyAddress,
      () => `expected ${PROXY_EXPECTED}`,
    ),
    { default: [], description, expected: `a list of addresses, each ${PROXY_EXPECTED}` },
  );
}

function HttpUrl(def: string, description: string) {
  return Type.Refine(
    Type.String({ default: def, description, expected: 'an http(s) URL' }),
    isHttpUrl,
    () => 'expected an http(s) URL',
  );
}

/** A nested mapping. `default: {}` lets Value.Default descend into a section the file left out. */
function Section<P extends Record<string, TSchema>>(description: string, properties: P) {
  return Type.Object(properties, {
    additionalProperties: false,
    default: {},
    description,
    expected: 'a mapping',
  });
}

// ---------------------------------------------------------------------------------------------
// Shared sections.

function NatsAuth(description: string) {
  return Section(description, {
    type: OneOf(
      ['none', 'user_pass', 'nkey'],
      'none',
      'NATS authentication: none, user_pass (username/password) or nkey (nkey_seed_file).',
    ),
    username: Str('', 'NATS username, for auth type user_pass.'),
    password: Str('', 'NATS password, for auth type user_pass.', { secret: true }),
    nkey_seed_file: Str('', 'Path of the NATS nkey seed file, for auth type nkey.'),
  });
}

/**
 * The supervised server's auth. Its users are the clients' own credentials (api.server.nats.auth,
 * agent.nats.auth); its own username/password or seed add an optional operator user.
 */
function ServerNatsAuth() {
  return Section('Authentication the embedded NATS server requires.', {
    type: OneOf(
      ['none', 'user_pass', 'nkey'],
      'user_pass',
      'NATS authentication the embedded server requires: user_pass, nkey or none. Its users are the API (full permissions) and agent (agent permissions) credentials; with user_pass and no passwords configured, random ones are made in the state dir. none lets anyone who can reach the port read every output and forge results: the server warns at start.',
    ),
    username: Str(
      '',
      'Optional extra NATS user with full permissions (user_pass), e.g. for operators.',
    ),
    password: Str('', 'Password of that extra user.', { secret: true }),
    nkey_seed_file: Str(
      '',
      'Seed file of an optional extra nkey user with full permissions (nkey).',
    ),
    api_nkeys: StringList(
      [],
      'Public nkeys (U...) allowed in as the API user, besides the key of api.server.nats.auth.nkey_seed_file.',
    ),
    agent_nkeys: StringList(
      [],
      'Public nkeys (U...) allowed in as agents, besides the key of agent.nats.auth.nkey_seed_file.',
    ),
    agent_host_nkeys: Type.Record(
      Type.String(),
      Type.String({ expected: 'a public user nkey (U followed by 55 characters)' }),
      {
        propertyNames: { pattern: AGENT_NAME_PATTERN },
        default: {},
        description:
          "Public nkeys (U...) of agents by hostname, e.g. { web-01: UABC... }: each may write only its own host's results, claims, events and registry entry.",
        expected: 'a mapping of hostnames to public nkeys',
        expectedKey: 'a hostname of letters, digits, "-", "_" and dots',
      },
    ),
  });
}

/** How a component (the API server or an agent) connects to NATS as a client. */
function NatsClient(who: string, clientName: string) {
  return Section(`How the ${who} connects to NATS.`, {
    host: Str('127.0.0.1', `NATS host the ${who} connects to (when servers is empty).`),
    port: Port(4222, `NATS port the ${who} connects to (when servers is empty).`),
    servers: NatsServers(
      `NATS server URLs for the ${who}; when non-empty, used instead of host and port.`,
    ),
    client_name: Str(clientName, `Connection name the ${who} reports to NATS.`),
    namespace: Str('osapi', 'Prefix for stream, subject and bucket names, to share one NATS.'),
    auth: NatsAuth(`Credentials the ${who} presents to NATS.`),
  });
}

// Keys are checked with propertyNames rather than a key pattern plus additionalProperties: false,
// because Value.Default (typebox 1.4) crashes on a record whose additionalProperties is false.
const Labels = Type.Record(
  Type.String(),
  Type.String({
    pattern: LABEL_VALUE_PATTERN,
    expected: 'a label value of dot-separated segments of letters, digits, "_" or "-"',
  }),
  {
    propertyNames: { pattern: LABEL_KEY_PATTERN },
    default: {},
    description:
      'Labels of this agent for targeting groups, e.g. { group: web.dev.us-east }; a job sent to ' +
      'group:web also reaches web.dev.us-east.',
    expected: 'a mapping of label keys to values',
    expectedKey: 'a label key of letters, digits, "_" or "-"',
  },
);

const Role = Type.Object(
  {
    permissions: Type.Array(Type.String({ minLength: 1, expected: 'a non-empty string' }), {
      expected: 'a list of permission strings',
    }),
    commands: Type.Optional(
      Type.Object(
        {
          // `true`: any command line of that mode; a list: patterns whose `*`
          // stands for one argument or word (auth/command-policy.ts).
          exec: Type.Optional(
            Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }))], {
              expected: 'true, false or a list of patterns such as "systemctl status *"',
            }),
          ),
          shell: Type.Optional(
            Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }))], {
              expected: 'true, false or a list of patterns',
            }),
          ),
          users: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              expected: 'a list of user names (or patterns) commands may run as',
            }),
          ),
          env: Type.Optional(
            Type.Array(Type.String({ minLength: 1 }), {
              expected: 'a list of environment variable names (or patterns) commands may set',
            }),
          ),
          cwd: Type.Optional(
            Type.Array(Type.String({ minLength: 1, expected: 'a non-empty string' }), {
              expected: 'a list of directories (or patterns such as "/srv/*") commands may run in',
            }),
          ),
        },
        {
          additionalProperties: false,
          expected:
            'a mapping { exec: true | false | [patterns], shell: true | false | [patterns], users: [names], env: [names], cwd: [directories] }',
        },
      ),
    ),
  },
  {
    additionalProperties: false,
    expected: 'a mapping with a permissions list and optional commands policy',
  },
);

const Roles = Type.Record(Type.String(), Role, {
  default: {},
  description:
    'Roles for bearer tokens beyond the built-in ones: NAME: { permissions: [perm, ...], commands: { exec, shell, cwd, users, env } }; the command policy is in docs/security.md.',
  expected: 'a mapping of role names to { permissions: [...] }',
});

// ---------------------------------------------------------------------------------------------
// The configuration.

export const ConfigSchema = Type.Object(
  {
    debug: Bool(false, 'Log at debug level.'),
    state_dir: Str(
      '',
      'Directory for local state; empty means $XDG_STATE_HOME/osapi or ~/.local/state/osapi.',
    ),
    api: Section('The REST API: its client and its server.', {
      client: Section('How the CLI reaches the API server.', {
        url: HttpUrl('http://0.0.0.0:8080', 'Base URL of the API server the CLI talks to.'),
        security: Section('Client credentials.', {
          bearer_token: Str('', 'Bearer token (JWT) the CLI sends to the API server.', {
            secret: true,
          }),
        }),
      }),
      server: Section('The API server.', {
        host: Str('127.0.0.1', 'Address the API server listens on.'),
        port: Port(8080, 'Port the API server listens on (0 = any free port).'),
        nats: NatsClient('API server', 'osapi-api'),
        limits: Section(
          'Bounds on client connections, so slow or hostile clients cannot use up the file descriptors the process needs (in `osapi start`, the agent and its commands too).',
          {
            max_connections: Int(
              0,
              0,
              undefined,
              "Most client connections open at once; more are closed as they come. 0 = derived from the process's open-files limit (3/4 of what is left after the descriptors NATS, files and, in `osapi start`, the agent's commands need; at most 4096).",
            ),
            headers_timeout: PositiveDuration(
              '10s',
              "How long a client has to send a request's headers, from the connection's start or the end of its previous request; then 408 and the connection is closed.",
            ),
            request_timeout: PositiveDuration(
              '30s',
              'How long a client has to send a whole request (headers and body); then 408 and the connection is closed. Not how long an answer may take: a command waits as long as its own timeout.',
            ),
            keep_alive_timeout: PositiveDuration(
              '5s',
              'How long an idle keep-alive connection is kept waiting for its next request.',
            ),
            max_requests_per_socket: Int(
              1000,
              0,
              undefined,
              'Requests served on one keep-alive connection before it is closed; 0 = no limit.',
            ),
            max_streams_per_user: Int(
              20,
              1,
              undefined,
              'Most job streams (GET /job/{id}/stream) one token subject may hold open at once; one more is refused with 429.',
            ),
          },
        ),
        security: Section('API server security.', {
          signing_key: Str('', 'Secret key used to sign and verify bearer tokens (HS256).', {
            secret: true,
          }),
          trusted_proxies: ProxyAddresses(
            'Reverse proxies in front of the API (addresses or CIDR ranges); none by default. A request from one of them is taken to come from the address its X-Forwarded-For names: that address is what the audit records and what the per-source limits count. From anyone else the header is ignored.',
          ),
          cors: Section('Cross-origin requests from browser pages (CORS).', {
            allow_origins: Origins(
              'Origins whose pages may call the API from a browser (exact, e.g. https://console.example.com); none by default. Others get no CORS headers, and their preflight a 403. The console at /ui/ needs none: it is same-origin.',
            ),
          }),
          roles: Roles,
          job_signing_key_file: Str(
            '',
            'Ed25519 private key (PEM) that signs every job; empty means <state_dir>/job-signing.key, made on first start.',
          ),
          audit: Section('The audit log of API requests.', {
            required: Bool(
              false,
              'Refuse (503) a request whose audit entry cannot be written, before anything runs.',
            ),
            unauthenticated_rate: Int(
              60,
              0,
              undefined,
              'Entries per minute recorded for each source address (IPv6: each /64) for requests without a valid token; beyond it they are counted in osapi_audit_dropped_total, not stored. 0 records none.',
            ),
            unauthenticated_burst: Int(
              20,
              1,
              undefined,
              'Entries a source address may have recorded at once, without a valid token, before the rate applies.',
            ),
            user_rate: Int(
              6000,
              1,
              undefined,
              'Requests per minute recorded for each token subject (an entry over 1 KiB counts once more for each further KiB); one more is refused with 429 too_many_requests before it runs, and counted in osapi_audit_dropped_total{reason="user_rate_limited"}: how fast one token holder can write to the audit log.',
            ),
            user_burst: Int(
              2000,
              1,
              undefined,
              'Requests a token subject may have recorded at once before user_rate applies.',
            ),
          }),
        }),
        files: Section('The file store (POST /file).', {
          max_bytes: Int(
            8 * 1024 * 1024,
            1,
            64 * 1024 * 1024,
            'The largest object POST /file takes, in bytes (1..67108864); larger uploads get 413.',
          ),
        }),
        ui: Section('The web console.', {
          enabled: Bool(
            true,
            'Serve the web console at /ui/ (static files built by setup; it calls this API with a token).',
          ),
        }),
        mcp: Section('The MCP server for assistants (docs/mcp.md).', {
          enabled: Bool(
            false,
            "Serve MCP (streamable HTTP, stateless) at /mcp: each operation the request's bearer token may run is a tool, every call a request to this API with that token.",
          ),
        }),
      }),
    }),
    nats: Section('The embedded NATS server and the JetStream resources.', {
      server: Section('The embedded NATS server.', {
        host: Str(
          '127.0.0.1',
          'Address the embedded NATS server listens on (the loopback only by default; a fleet sets the address agents reach).',
        ),
        port: Port(4222, 'Port the embedded NATS server listens on (0 = any free port).'),
        store_dir: Str('.nats/jetstream/', 'Directory where JetStream stores its data.'),
        namespace: Str('osapi', 'Prefix for stream, subject and bucket names, to share one NATS.'),
        auth: ServerNatsAuth(),
        name: Str(
          '',
          "This server's name, unique in its cluster and kept across restarts; empty means the OS hostname.",
        ),
        cluster: Section('Routes to the other NATS servers, to run several as one cluster.', {
          name: Str(
            '',
            'Cluster name, the same on every node; empty runs a single server (no routes).',
          ),
          host: Str('localhost', 'Address this node listens on for routes from the others.'),
          port: Port(6222, 'Port this node listens on for routes (0 = any free port).'),
          routes: NatsRoutes(
            'Route URLs of the cluster nodes (nats-route://host:port); this node may be listed too.',
          ),
        }),
      }),
      stream: Section('The JetStream stream carrying jobs.', {
        name: Str('JOBS', 'Name of the jobs stream.'),
        subjects: Str(DEFAULT_STREAM_SUBJECTS, 'Subjects the jobs stream captures.'),
        max_age: Duration('24h', 'How long a job message is kept.'),
        max_msgs: Int(10000, 0, undefined, 'Most job messages kept in the stream.'),
        storage: Storage('Where the jobs stream is stored: file or memory.'),
        replicas: Replicas('Replicas of the jobs stream (1..5).'),
        discard: OneOf(
          ['old', 'new'],
          'old',
          'When the stream is full: drop old messages or refuse new.',
        ),
      }),
      kv: Section('The key-value buckets holding job state and responses.', {
        bucket: Str('job-queue', 'Bucket holding job definitions and status.'),
        response_bucket: Str('job-responses', 'Bucket holding agent responses.'),
        ttl: Duration('1h', 'How long a job entry lives.'),
        max_bytes: Int(104857600, 0, undefined, 'Size limit of each job bucket in bytes.'),
        storage: Storage('Where the job buckets are stored: file or memory.'),
        replicas: Replicas('Replicas of the job buckets (1..5).'),
      }),
      audit: Section('The audit log buckets.', {
        bucket: Str(
          'audit-log',
          'Bucket holding the audit entries of requests with a valid token; those without one go to <bucket>-unauthenticated.',
        ),
        ttl: Duration('720h', 'How long an audit entry is kept.'),
        max_bytes: Int(
          52428800,
          0,
          undefined,
          'Size limit of the audit bucket in bytes; when full, new entries are refused (logged and counted), old ones kept.',
        ),
        unauthenticated_max_bytes: Int(
          10485760,
          4096,
          undefined,
          'Size limit in bytes of the bucket of entries without a valid token; when full, its oldest entries make room.',
        ),
        storage: Storage('Where the audit buckets are stored: file or memory.'),
        replicas: Replicas('Replicas of the audit buckets (1..5).'),
      }),
      registry: Section('The agent registry bucket (heartbeats).', {
        bucket: Str('agent-registry', 'Bucket where agents register and heartbeat.'),
        ttl: Duration('30s', 'How long an agent stays registered without a heartbeat.'),
        storage: Storage('Where the registry bucket is stored: file or memory.'),
        replicas: Replicas('Replicas of the registry bucket (1..5).'),
      }),
      dlq: Section('The dead-letter stream for jobs that exhausted their deliveries.', {
        max_age: Duration('7d', 'How long a dead letter is kept.'),
        max_msgs: Int(1000, 0, undefined, 'Most dead letters kept.'),
        storage: Storage('Where the dead-letter stream is stored: file or memory.'),
        replicas: Replicas('Replicas of the dead-letter stream (1..5).'),
      }),
    }),
    agent: Section('The agent that runs jobs on a host.', {
      nats: NatsClient('agent', 'osapi-agent'),
      consumer: Section(
        'The durable JetStream consumer all agents share for `_any` jobs; the API server makes it from these settings too.',
        {
          name: Str('jobs-agent', 'Durable consumer name (prefix).'),
          max_deliver: Int(
            5,
            0,
            undefined,
            'Deliveries of a job message before it is dead-lettered.',
          ),
          ack_wait: Duration('2m', 'How long the server waits for an ack before redelivering.'),
          max_ack_pending: Int(1000, 0, undefined, 'Most unacknowledged messages in flight.'),
          max_waiting: Int(
            10000,
            1,
            undefined,
            'Most pull requests the shared `_any` consumer holds at once: one per idle agent, so set it above the number of agents (nats-server refuses pulls past it). Fixed when the consumer is made; the API server makes it again when this is larger.',
          ),
          replay_policy: OneOf(
            ['instant', 'original'],
            'instant',
            'Replay messages as fast as possible (instant) or at their original pace.',
          ),
          back_off: Type.Array(Duration(undefined, 'A redelivery delay.'), {
            default: ['30s', '2m', '5m', '15m', '30m'],
            description: 'Delays between redeliveries of a failed job.',
            expected: `a list of durations (${DURATION_EXPECTED})`,
          }),
        },
      ),
      listen: Section('How the agent hears of jobs for `_all`, its hostname and its labels.', {
        catch_up: Duration(
          '10m',
          'How far back a starting agent reads the jobs stream for jobs it missed; it runs those still before their start deadline that were addressed to it (a broadcast only when it was expected). After a reconnect it reads back to when the connection was lost.',
        ),
        jitter: Duration(
          '5s',
          'Most random delay before an agent reads back what it missed, after it starts or reconnects, so that agents starting or cut off together do not all ask the server at once.',
        ),
      }),
      queue_group: Str('job-agents', 'Queue group the agents share for load-balanced jobs.'),
      hostname: Str('', 'Name this agent registers under; empty means the OS hostname.'),
      max_jobs: Int(10, 1, 1000, 'Most jobs this agent runs at once (1..1000).'),
      direct_spawn: Bool(
        true,
        "Start commands with posix_spawn (dist/native/direct-spawn.node, built at setup where a C compiler is found), which does not copy the agent's memory as Node's fork does: on a virtual machine several milliseconds less per command. false, or where the module was not built (and for a run as another `user`), commands start with Node's spawn.",
      ),
      max_output_bytes: Int(
        1048576,
        0,
        undefined,
        'Cap in bytes on each output stream (stdout, stderr) kept per job.',
      ),
      metrics_port: Port(
        0,
        "Port of the agent's Prometheus /metrics on every interface; 0 turns it off.",
      ),
      labels: Labels,
      facts: Section(
        'The facts the agent collects about its host (GET /agent, `@fact.<key>` in requests).',
        {
          interval: PositiveDuration(
            '60s',
            'How often the facts are collected again (and stored at least every 3 minutes, so they never expire while the agent runs).',
          ),
          timeout: PositiveDuration(
            '5s',
            'Most time `hostname -f` or one executable fact source may take; a slower source is skipped with a warning.',
          ),
          dir: Str(
            '',
            'A directory of custom fact sources: *.json files holding a JSON object, and executables that print one; each key is merged under `custom.`, the sources read in the order of their names as `LC_ALL=C ls` lists them, a key from a later source replacing the same key from an earlier one (a failing, slow or larger than 64 KiB source is skipped with a warning). Empty: none.',
          ),
          custom: Type.Record(
            Type.String(),
            Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
              expected: 'a string, number or boolean',
            }),
            {
              propertyNames: { pattern: '^[A-Za-z0-9_-]{1,64}$' },
              default: {},
              description:
                'Custom facts of this agent, e.g. { rack: r12, tier: 2 }: `@fact.custom.rack`. They win over a source in `dir` with the same key.',
              expected: 'a mapping of fact names to strings, numbers or booleans',
              expectedKey: 'a fact name of letters, digits, "_" or "-" (at most 64)',
            },
          ),
        },
      ),
      enrollment: Section('How agents are trusted: each has a key, and takes jobs once accepted.', {
        auto_accept: Bool(
          false,
          'Read by the API server: an agent asking to enroll (a key it has not seen for that hostname) is accepted at once, with no operator step. Off, it waits in GET /agent/pending for POST /agent/{hostname}/accept. A changed key is never accepted this way. `osapi start` accepts its own agent whatever this says.',
        ),
      }),
      conditions: Section(
        'Thresholds of the conditions the agent reports with each heartbeat (GET /agent `conditions`, its metrics).',
        {
          memory_pressure: Int(
            90,
            1,
            100,
            'MemoryPressure holds while this percent of memory or more is in use (1..100).',
          ),
          disk_pressure: Int(
            90,
            1,
            100,
            'DiskPressure holds while a local filesystem has this percent or more in use (1..100).',
          ),
          high_load: Type.Number({
            default: 2,
            exclusiveMinimum: 0,
            description:
              'HighLoad holds while the 1-minute load average per CPU is this or more (e.g. 2: twice as many runnable tasks as CPUs).',
            expected: 'a number above 0',
          }),
        },
      ),
      dns: Section('How the agent reads and writes DNS settings.', {
        resolv_conf: Str(
          '/etc/resolv.conf',
          'The resolver file network.dns.get reads and network.dns.update replaces where systemd-resolved does not run.',
        ),
      }),
      services: Section('How the agent manages services (systemd units).', {
        unit_dir: Str(
          '/etc/systemd/system',
          'Where service.create writes unit files, and the only directory service.update and service.delete touch.',
        ),
      }),
      node: Section('How the agent sets the host name where systemd does not run.', {
        hostname_file: Str(
          '/etc/hostname',
          "The file naming the host that node.hostname.update writes (with the kernel's name) where hostnamectl is not the way.",
        ),
      }),
      timezone: Section('Where the agent reads and sets the timezone when systemd does not run.', {
        localtime: Str(
          '/etc/localtime',
          'The link into the tz database that timezone.update replaces (atomically) where timedatectl is not the way.',
        ),
        timezone_file: Str(
          '/etc/timezone',
          'The file naming the timezone that timezone.update writes beside the link.',
        ),
        zoneinfo_dir: Str(
          '/usr/share/zoneinfo',
          'The tz database: a timezone is taken only when it names a zone (TZif) file here.',
        ),
      }),
      certificates: Section('How the agent manages CA certificates of the system trust store.', {
        dir: Str(
          '/usr/local/share/ca-certificates',
          'Where certificate.ca.create writes osapi-<name>.crt files (then runs update-ca-certificates), and the only files certificate.ca.update and certificate.ca.delete touch.',
        ),
      }),
      cron: Section('How the agent manages cron entries.', {
        dir: Str(
          '/etc/cron.d',
          'Where cron.create writes an entry with a schedule (osapi-<name>); cron.list, cron.update and cron.delete touch no other file there.',
        ),
        periodic_dir: Str(
          '/etc',
          'Where the run-parts directories are: an entry with an interval is the script <periodic_dir>/cron.<interval>/osapi-<name> (cron.hourly, cron.daily, cron.weekly, cron.monthly); cron.list, cron.update and cron.delete touch no other file there.',
        ),
      }),
      sysctl: Section('How the agent manages kernel parameters (sysctl).', {
        file: Str(
          '/etc/sysctl.d/90-osapi.conf',
          'The one file sysctl.create and sysctl.update persist keys in (read at boot); the only file sysctl.delete touches.',
        ),
        proc_dir: Str(
          '/proc/sys',
          "Where the kernel's parameters are read and set at once (net.ipv4.ip_forward is <proc_dir>/net/ipv4/ip_forward).",
        ),
      }),
      ntp: Section('How the agent manages time synchronisation (chrony).', {
        sources_file: Str(
          '/etc/chrony/sources.d/osapi.sources',
          'The chrony sources file ntp.create and ntp.update write and ntp.delete removes; chrony reads it (sourcedir) on `chronyc reload sources`.',
        ),
      }),
      network: Section('How the agent changes network interfaces and routes (netplan).', {
        netplan_dir: Str(
          '/etc/netplan',
          'Where network.interface.* and network.route.* write one file per interface (90-osapi-<name>.yaml); the only files they touch. netplan itself reads /etc/netplan, /run/netplan and /lib/netplan.',
        ),
        connectivity_check_s: Int(
          30,
          1,
          60,
          'Seconds the agent waits, after netplan apply, to reach NATS again; when it cannot, it puts the previous file back and applies that.',
        ),
      }),
      docker: Section('How the agent reaches the Docker daemon.', {
        socket: Str(
          '/var/run/docker.sock',
          "The Docker Engine API's unix socket the docker operations use; where no daemon answers on it, they answer skipped.",
        ),
      }),
      security: Section('How the agent trusts the jobs it is given.', {
        job_verify_key: Str(
          '',
          "The API's public job-signing key (PEM); empty means job_verify_key_file.",
        ),
        job_verify_key_file: Str(
          '',
          "File holding the API's public job-signing key; empty means <state_dir>/job-signing.pub.",
        ),
      }),
    }),
  },
  { additionalProperties: false, default: {}, expected: 'a mapping' },
);

export type ConfigSchemaType = typeof ConfigSchema;

/** The configuration as it is loaded: defaults filled, durations in integer milliseconds. */
export type Config = StaticDecode<typeof ConfigSchema>;

/** The configuration as written in the YAML file: durations are strings such as "24h". */
export type ConfigFile = Static<typeof ConfigSchema>;

/** NATS credentials: one flat object whose `type` says which of the other fields apply. */
export type NatsAuthConfig = Config['agent']['nats']['auth'];

/** How the API server or an agent connects to NATS. */
export type NatsClientConfig = Config['agent']['nats'];

/** Key names whose values are never shown in messages or logs. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'signing_key',
  'bearer_token',
  'password',
]);
