// Every operation a job can carry, declared once. A declaration says what the
// operation is called, who may run it, where its route is, what it takes and
// answers, whether it changes the host, how long an agent may take, and how
// the SDK and the CLI name it. From these come: the API's routes (validation,
// permission, the job service, the answer: src/api/operations/routes.ts), the
// OpenAPI document (generated from those routes), the SDK's typed methods
// (src/sdk/client.ts), the CLI's commands (src/cli/operation-commands.ts),
// the route table of docs/api.md (scripts/api-docs.ts, tested current) and
// what the console offers a token. The agent's handlers are keyed by the same
// names (src/agent/handlers/index.ts). How to add one: docs/architecture.md.
import { type Static, type TObject, type TProperties, Type } from 'typebox';
import { changeAnswer, queryAnswer, readAnswer } from './answers.js';
import {
  CertificateCACreateRequest,
  CertificateCAData,
  CertificateCAListResult,
  CertificateCAMutationResult,
  CertificateNameData,
} from './certificate.js';
import {
  CommandJobData,
  CommandResponse,
  commandJobData,
  ExecRequest,
  ShellRequest,
  TIMEOUT_DEFAULT_S,
  TIMEOUT_MAX_S,
} from './command.js';
import {
  CronCreateData,
  CronCreateRequest,
  CronEntry,
  CronGetResult,
  CronListResult,
  CronMutationResult,
  CronNameData,
  CronUpdateData,
  CronUpdateRequest,
} from './cron.js';
import {
  DockerActionResult,
  DockerCreateData,
  DockerCreateResult,
  DockerDetailResult,
  DockerExecData,
  DockerExecResult,
  DockerIdData,
  DockerImageData,
  DockerListData,
  DockerListResult,
  DockerPullData,
  DockerPullResult,
  DockerRemoveData,
  DockerStopData,
  DockerStopJobData,
  dockerStopJobData,
} from './docker.js';
import {
  FileDeployData,
  FileDeployInput,
  FileDeployResult,
  FilePathData,
  FileStatusResponse,
  FileStatusResult,
  FileUndeployResult,
} from './file.js';
import { HostnameUpdateData, HostnameUpdateResult } from './hostname.js';
import { LogListResult, LogQueryData, LogSourceResult, LogUnitData } from './log.js';
import {
  DnsDeleteData,
  DnsDeleteResult,
  InterfaceConfigData,
  InterfaceGetResult,
  InterfaceListResult,
  InterfaceMutationResult,
  InterfaceNameData,
  RouteConfigData,
  RouteInterfaceData,
  RouteListResult,
  RouteMutationResult,
} from './network.js';
import {
  DiskResult,
  DnsGetData,
  DnsResult,
  DnsUpdateData,
  DnsUpdateResult,
  HostnameResult,
  LoadResult,
  MemoryResult,
  NoData,
  OsResult,
  PingData,
  PingResult,
  StatusResult,
  UptimeResult,
} from './node-operations.js';
import { NtpMutationResult, NtpServersData, NtpStatus } from './ntp.js';
import {
  PACKAGE_CHANGE_TIMEOUT_DEFAULT_S,
  PACKAGE_CHANGE_TIMEOUT_MAX_S,
  PackageInstallData,
  PackageInstallResult,
  PackageListResult,
  PackageNameData,
  PackageRemoveData,
  PackageRemoveResult,
  SourcesUpdateData,
  SourcesUpdateResult,
  UpdatesListResult,
} from './package.js';
import type { Permission } from './permissions.js';
import { PowerData, PowerResult } from './power.js';
import {
  ProcessGetResult,
  ProcessListResult,
  ProcessPidData,
  ProcessSignalData,
  ProcessSignalResult,
  withPidNumber,
} from './process.js';
import { RolloutFields } from './rollout.js';
import {
  ServiceCreateData,
  ServiceCreateRequest,
  ServiceGetResult,
  ServiceListResult,
  ServiceMutationResult,
  ServiceNameData,
  ServiceUpdateData,
  ServiceUpdateRequest,
} from './services.js';
import { CommandResult } from './states.js';
import {
  SysctlEntry,
  SysctlGetResult,
  SysctlKeyData,
  SysctlListResult,
  SysctlMutationResult,
  SysctlSetData,
} from './sysctl.js';
import { TimezoneMutationResult, TimezoneResult, TimezoneUpdateData } from './timezone.js';
import {
  GroupCreateData,
  GroupListResult,
  GroupMutationResult,
  GroupNameData,
  GroupUpdateData,
  SshKeyAddData,
  SshKeyListResult,
  SshKeyMutationResult,
  SshKeyRemoveData,
  UserCreateData,
  UserCreateRequest,
  UserListResult,
  UserMutationResult,
  UserNameData,
  UserPasswordData,
  UserPasswordRequest,
  UserUpdateData,
  userCreateData,
  userPasswordData,
} from './users.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** How the CLI offers an operation under `osapi client`. */
export interface CliDeclaration {
  /** The words after `osapi client`, e.g. `['node', 'network', 'ping']`. */
  readonly command: readonly string[];
  /** Per data field, the flag's help where the schema's description is not what a flag user needs. */
  readonly flags?: Readonly<Record<string, string>>;
  /**
   * Per data field, its flag's name where the field's own is taken by an
   * option of `osapi` itself, which it reads wherever it stands (`version`
   * would be `--version`, the program's own): `{ version: 'package-version' }`.
   */
  readonly flagNames?: Readonly<Record<string, string>>;
  /**
   * Boolean fields whose default is true: their command also takes
   * `--no-<flag>`, which sends false (`--no-auto-start`).
   */
  readonly negatable?: readonly string[];
  /**
   * `false` where the command is written by hand because it offers more than
   * its fields (the commands' follow, grouping and stdin files); it still takes
   * its words and description from here.
   */
  readonly generated?: false;
}

/**
 * A check an object's content must pass: `ca-certificates`, PEM CA
 * certificates only (no private key, each parseable and a CA).
 */
export type ObjectCheck = 'ca-certificates';

export interface OperationDeclaration {
  /** What a token needs, on the route and through POST /job alike. */
  readonly permission: Permission;
  readonly method: HttpMethod;
  /** The route, `{hostname}` being the target; other `{name}`s are fields of `input`. */
  readonly path: string;
  /** One line: the route's summary, the CLI command's description and docs/api.md's. */
  readonly summary: string;
  /**
   * `query` reads the host: any agent may answer again, no events are
   * recorded. `modify` changes it: claimed once per host, events recorded,
   * rate control (max_concurrency, max_errors) offered for broadcasts.
   */
  readonly kind: 'query' | 'modify';
  /** What the request carries: the body, or the path's fields for a GET. */
  readonly input: TObject;
  /** The job's data as stored and as the agent checks it. */
  readonly data: TObject;
  /** Turns a valid input into the job's data (defaults applied); default: the input without its rate control. */
  readonly toData?: (input: never) => unknown;
  /** What one agent answers when it did the operation. */
  readonly result: TObject;
  /** The route's answer: `{job_id, results, expected_hosts?}`. */
  readonly response: TObject;
  /**
   * How the route shapes each item: a query's (`completed`), a read's
   * (`ok`, the managed domains), a change's (`ok` and `changed`), or a command's.
   */
  readonly answer: 'query' | 'read' | 'change' | 'command';
  /**
   * A read whose result has a `status` of its own (a file's `in-sync`,
   * `drifted`...): it is the item's status where the host answered, as the
   * reference's file status has it.
   */
  readonly resultStatus?: true;
  /**
   * A read whose result is a list under this field answers one item per
   * element, its fields beside the host's name and status (the reference's
   * cron and sysctl lists); a host with none answers one item without them.
   * Its `response` is then a readAnswer of the element.
   */
  readonly itemPer?: string;
  /** The route's success status. */
  readonly status: 200 | 202;
  /** Seconds an agent may take; a data field `timeout` chooses within this range. */
  readonly timeout: { readonly default_s: number; readonly max_s: number };
  /**
   * The input field that names an object of the file store (`object`,
   * `object_name`), when the operation takes one. The API looks the object
   * up before the job goes out (400 naming the field when there is none) and
   * puts its digest in the data as `object_sha256`, so the job signs the
   * content: an agent reading the object refuses any other.
   */
  readonly object?: string;
  /**
   * What the named object's content must be (src/job/object-checks.ts):
   * the API reads the object once when it accepts the job and refuses
   * content that fails with a 400 naming `object`'s field; the agent checks
   * it again before writing.
   */
  readonly objectCheck?: ObjectCheck;
  /**
   * Input fields a route of another method than GET takes in its query
   * string, as the reference has them (`force` on its DELETE routes). A
   * GET's fields besides its path's always go there.
   */
  readonly query?: readonly string[];
  /** The SDK's method name. */
  readonly sdk: string;
  readonly cli: CliDeclaration;
}

/**
 * How long an agent may take on the host operations that read or set small
 * things. Reading the host takes milliseconds; a ping ends by its own 5 s
 * deadline. The rest is room for an agent whose job slots are all taken by
 * running commands.
 */
const HOST_OPERATION_TIMEOUT = { default_s: 10, max_s: 10 } as const;

/** journalctl reads its files from the end: well under a second; room for a large journal. */
const LOG_TIMEOUT = { default_s: 30, max_s: 30 } as const;

/** update-ca-certificates rewrites /etc/ssl/certs and its bundle: seconds, more on a busy host. */
const CERTIFICATE_TIMEOUT = { default_s: 60, max_s: 60 } as const;

/** Reading an object from the file store (up to a few MiB) and writing it. */
const FILE_OPERATION_TIMEOUT = { default_s: 30, max_s: 30 } as const;
/**
 * Package installs, removals and sources updates download and unpack: minutes
 * on a slow mirror. A job's `timeout` may ask for up to half an hour.
 */
const PACKAGE_CHANGE_TIMEOUT = {
  default_s: PACKAGE_CHANGE_TIMEOUT_DEFAULT_S,
  max_s: PACKAGE_CHANGE_TIMEOUT_MAX_S,
} as const;

/** A change's input: its data, plus rate control for broadcasts. */
function withRollout<P extends TProperties>(data: TObject<P>) {
  return Type.Object({ ...data.properties, ...RolloutFields }, { additionalProperties: false });
}

/** A query of a host's information that takes no input. */
function hostInfo<P extends TProperties, const S extends string>(
  path: string,
  summary: string,
  result: TObject<P>,
  sdk: S,
  command: readonly string[],
) {
  return {
    permission: 'node:read',
    method: 'GET',
    path,
    summary,
    kind: 'query',
    input: NoData,
    data: NoData,
    result,
    response: queryAnswer(result),
    answer: 'query',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk,
    cli: { command },
  } as const;
}

/**
 * A command: its output and exit code per host. Its CLI command is written by
 * hand (src/cli/commands/client.ts) for what it offers beyond its fields:
 * --follow, --group, stdin from a file.
 */
function command<const M extends 'exec' | 'shell', I extends TObject, const S extends string>(
  mode: M,
  summary: string,
  input: I,
  sdk: S,
) {
  return {
    permission: 'command:execute',
    method: 'POST',
    path: `/node/{hostname}/command/${mode}`,
    summary,
    kind: 'modify',
    input,
    data: CommandJobData,
    toData: commandJobData,
    result: CommandResult,
    response: CommandResponse,
    answer: 'command',
    status: 202,
    timeout: { default_s: TIMEOUT_DEFAULT_S, max_s: TIMEOUT_MAX_S },
    sdk,
    cli: { command: ['node', 'command', mode], generated: false },
  } as const;
}

/**
 * Reading services: two listings and one `systemctl show` of every unit, a
 * second or so even with hundreds of units; the rest is room for a busy host.
 */
const SERVICE_READ_TIMEOUT = { default_s: 30, max_s: 30 } as const;

/**
 * Changing a service waits for systemd's job: a start or stop may take up to
 * its unit's timeout (90 s by default), which the agent's own bound on
 * systemctl (src/agent/handlers/systemctl.ts) stays under.
 */
const SERVICE_CHANGE_TIMEOUT = { default_s: 120, max_s: 120 } as const;

/** A change of one service (start, stop, ...) that takes nothing but its name. */
function serviceAction<const A extends string, const S extends string>(
  action: A,
  summary: string,
  sdk: S,
) {
  return {
    permission: 'service:write',
    method: 'POST',
    path: `/node/{hostname}/service/{name}/${action}`,
    summary,
    kind: 'modify',
    input: withRollout(ServiceNameData),
    data: ServiceNameData,
    result: ServiceMutationResult,
    response: changeAnswer(ServiceMutationResult),
    answer: 'change',
    status: 200,
    timeout: SERVICE_CHANGE_TIMEOUT,
    sdk,
    cli: { command: ['node', 'service', action], flags: { name: SERVICE_NAME_FLAG } },
  } as const;
}

const SERVICE_NAME_FLAG = 'the service, e.g. nginx or nginx.service';

/**
 * How long an agent may take to change an account: useradd copies the
 * skeleton into a new home, usermod -m moves a whole home. The tools run
 * within this less a margin (src/agent/handlers/accounts.ts).
 */
const ACCOUNT_CHANGE_TIMEOUT = { default_s: 60, max_s: 60 } as const;

/** Reading and writing a few small files in the cron directory. */
const CRON_TIMEOUT = { default_s: 30, max_s: 30 } as const;

const CRON_NAME_FLAG =
  "the entry's name (its file is osapi-<name> in the cron directory, or in cron.<interval> with --interval)";
const CRON_FLAGS = {
  name: CRON_NAME_FLAG,
  object: 'the stored object (uploaded by POST /file) holding the command line',
  vars: 'template variables: name=value,name=value or a JSON object',
} as const;

/** Reading and writing a few small files under /proc/sys and /etc/sysctl.d. */
const SYSCTL_TIMEOUT = { default_s: 30, max_s: 30 } as const;
const SYSCTL_KEY_FLAG = 'the parameter, e.g. net.ipv4.ip_forward';

/** A change of one sysctl key. */
function sysctlChange<
  const M extends 'POST' | 'PUT' | 'DELETE',
  I extends TObject,
  D extends TObject,
  const S extends string,
>(method: M, path: string, summary: string, data: { input: I; data: D }, sdk: S, verb: string) {
  return {
    permission: 'sysctl:write',
    method,
    path,
    summary,
    kind: 'modify',
    input: data.input,
    data: data.data,
    result: SysctlMutationResult,
    response: changeAnswer(SysctlMutationResult),
    answer: 'change',
    status: 200,
    timeout: SYSCTL_TIMEOUT,
    sdk,
    cli: { command: ['node', 'sysctl', verb], flags: { key: SYSCTL_KEY_FLAG } },
  } as const;
}

/** chronyc answers at once; a reload re-reads a small file and resolves names. */
const NTP_TIMEOUT = { default_s: 30, max_s: 30 } as const;

/** A change of the NTP servers this system configures. */
function ntpChange<
  const M extends 'POST' | 'PUT' | 'DELETE',
  D extends TObject,
  const S extends string,
>(method: M, summary: string, data: D, sdk: S, verb: string) {
  return {
    permission: 'ntp:write',
    method,
    path: '/node/{hostname}/ntp',
    summary,
    kind: 'modify',
    input: withRollout(data),
    data,
    result: NtpMutationResult,
    response: changeAnswer(NtpMutationResult),
    answer: 'change',
    status: 200,
    timeout: NTP_TIMEOUT,
    sdk,
    cli: { command: ['node', 'ntp', verb] },
  } as const;
}

/** `ip` answers at once; netplan's generate and apply, and the wait for NATS after, take longer. */
const NETWORK_READ_TIMEOUT = { default_s: 30, max_s: 30 } as const;

/** A read of the host's interfaces or routes (network:read), from the kernel. */
function networkRead<I extends TObject, P extends TProperties, const S extends string>(
  path: string,
  summary: string,
  input: I,
  result: TObject<P>,
  sdk: S,
  command: readonly string[],
  flags: Readonly<Record<string, string>> = {},
) {
  return {
    permission: 'network:read',
    method: 'GET',
    path,
    summary,
    kind: 'query',
    input,
    data: input,
    result,
    response: readAnswer(result),
    answer: 'read',
    status: 200,
    timeout: NETWORK_READ_TIMEOUT,
    sdk,
    cli: { command, flags },
  } as const;
}

const NETWORK_INTERFACE_FLAG = 'the network interface, e.g. eth0';

/**
 * A netplan change: writing a small file, `netplan generate` and `netplan
 * apply` (seconds), then up to agent.network.connectivity_check_s (at most
 * 60) waiting to reach NATS again, and when it cannot, the previous file
 * applied again.
 */
const NETPLAN_CHANGE_TIMEOUT = { default_s: 180, max_s: 180 } as const;

/** A change of an interface's configuration or its routes (network:write), through netplan. */
function networkChange<
  const M extends 'POST' | 'PUT' | 'DELETE',
  D extends TObject,
  P extends TProperties,
  const S extends string,
>(
  method: M,
  path: string,
  summary: string,
  shapes: { data: D; result: TObject<P> },
  sdk: S,
  command: readonly string[],
) {
  return {
    permission: 'network:write',
    method,
    path,
    summary,
    kind: 'modify',
    input: withRollout(shapes.data),
    data: shapes.data,
    result: shapes.result,
    response: changeAnswer(shapes.result),
    answer: 'change',
    status: 200,
    timeout: NETPLAN_CHANGE_TIMEOUT,
    sdk,
    cli: {
      command,
      flags: {
        name: NETWORK_INTERFACE_FLAG,
        interface_name: NETWORK_INTERFACE_FLAG,
        addresses: 'addresses in CIDR form, comma-separated (192.0.2.10/24,2001:db8::10/64)',
        routes: 'the routes as JSON: \'[{"to":"203.0.113.0/24","via":"192.0.2.1","metric":100}]\'',
      },
    },
  } as const;
}

/** A read of the host's users, groups or keys (user:read). */
function accountRead<I extends TObject, P extends TProperties, const S extends string>(
  path: string,
  summary: string,
  input: I,
  result: TObject<P>,
  sdk: S,
  command: readonly string[],
) {
  return {
    permission: 'user:read',
    method: 'GET',
    path,
    summary,
    kind: 'query',
    input,
    data: input,
    result,
    response: readAnswer(result),
    answer: 'read',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk,
    cli: { command, flags: ACCOUNT_FLAGS },
  } as const;
}

/** A change of the host's users, groups or keys (user:write): `changed` false when it was so. */
function accountChange<
  const M extends HttpMethod,
  I extends TObject,
  D extends TObject,
  P extends TProperties,
  const S extends string,
>(
  method: M,
  path: string,
  summary: string,
  shapes: { input: I; data: D; result: TObject<P>; toData?: (input: never) => unknown },
  sdk: S,
  command: readonly string[],
) {
  return {
    permission: 'user:write',
    method,
    path,
    summary,
    kind: 'modify',
    input: shapes.input,
    data: shapes.data,
    ...(shapes.toData ? { toData: shapes.toData } : {}),
    result: shapes.result,
    response: changeAnswer(shapes.result),
    answer: 'change',
    status: 200,
    timeout: ACCOUNT_CHANGE_TIMEOUT,
    sdk,
    cli: { command, flags: ACCOUNT_FLAGS },
  } as const;
}

/** The flags of the account commands, where a field's description is not what a flag user needs. */
const ACCOUNT_FLAGS = {
  name: 'the login or group name (a-z, 0-9, _ and -, starting with a letter or _)',
  groups: 'supplementary groups, comma-separated (adm,sudo); an empty value leaves none',
  members: "every member the group is to have, comma-separated (alice,bob); '' empties it",
  password: "the password; '-' reads it from standard input (first line), keeping it out of ps",
  key: 'the public key line, e.g. "$(cat ~/.ssh/id_ed25519.pub)"',
  fingerprint: 'the SHA256:... fingerprint, as ssh-keygen -l and ssh-key list print it',
} as const;

/**
 * power.reboot and power.shutdown: the agent answers (its result is stored)
 * and only then acts, so the answer reaches the person who asked.
 */
function powerAction<A extends 'reboot' | 'shutdown', S extends string>(
  action: A,
  summary: string,
  sdk: S,
) {
  return {
    permission: 'power:execute',
    method: 'POST',
    path: `/node/{hostname}/power/${action}`,
    summary,
    kind: 'modify',
    input: withRollout(PowerData),
    data: PowerData,
    result: PowerResult,
    response: changeAnswer(PowerResult),
    answer: 'change',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk,
    cli: {
      command: ['node', 'power', action],
      flags: {
        delay: 'seconds to wait first, rounded up to whole minutes (default 0: at once)',
        message: "the message sent to the host's logged-in users",
      },
    },
  } as const;
}

/**
 * The Docker Engine answers a read at once; a change of a container waits for
 * the daemon (a create, a start of a container whose image is there).
 */
const DOCKER_TIMEOUT = { default_s: 60, max_s: 60 } as const;
/** A stop waits up to its own `timeout` (at most 90 s) before the daemon kills the container. */
const DOCKER_STOP_TIMEOUT = { default_s: 120, max_s: 120 } as const;
/** A pull downloads the image's layers: minutes on a slow registry. */
const DOCKER_PULL_TIMEOUT = { default_s: 600, max_s: 600 } as const;

const DOCKER_ID_FLAG = 'the container: its id (or a unique prefix) or its name';

/** A change of one container (docker:write) that answers a DockerActionResultItem. */
function dockerAction<
  const M extends 'POST' | 'DELETE',
  D extends TObject,
  const S extends string,
  const V extends string,
>(method: M, path: string, summary: string, data: D, sdk: S, verb: V) {
  return {
    permission: 'docker:write',
    method,
    path: `/node/{hostname}/container/docker${path}`,
    summary,
    kind: 'modify',
    input: withRollout(data),
    data,
    result: DockerActionResult,
    response: changeAnswer(DockerActionResult),
    answer: 'change',
    status: 202,
    timeout: DOCKER_TIMEOUT,
    sdk,
    cli: { command: ['node', 'container', 'docker', verb], flags: { id: DOCKER_ID_FLAG } },
  } as const;
}

export const OPERATIONS = {
  'command.exec.execute': command(
    'exec',
    'Run a program with arguments, no shell, on each host',
    ExecRequest,
    'commandExec',
  ),
  'command.shell.execute': command(
    'shell',
    'Run a shell command line (/bin/sh -c) on each host',
    ShellRequest,
    'commandShell',
  ),
  'node.status.get': hostInfo(
    '/node/{hostname}',
    'Uptime, load, memory, disks and OS of each host',
    StatusResult,
    'nodeStatus',
    ['node', 'status'],
  ),
  'node.hostname.get': hostInfo(
    '/node/{hostname}/hostname',
    'Hostname and labels of each agent',
    HostnameResult,
    'nodeHostname',
    ['node', 'hostname'],
  ),
  'node.disk.get': hostInfo(
    '/node/{hostname}/disk',
    'Mounted local filesystems of each host',
    DiskResult,
    'nodeDisk',
    ['node', 'disk'],
  ),
  'node.memory.get': hostInfo(
    '/node/{hostname}/memory',
    'Memory of each host, in bytes',
    MemoryResult,
    'nodeMemory',
    ['node', 'memory'],
  ),
  'node.load.get': hostInfo(
    '/node/{hostname}/load',
    'Load averages of each host',
    LoadResult,
    'nodeLoad',
    ['node', 'load'],
  ),
  'node.os.get': hostInfo(
    '/node/{hostname}/os',
    'OS distribution and version of each host',
    OsResult,
    'nodeOs',
    ['node', 'os'],
  ),
  'node.uptime.get': hostInfo(
    '/node/{hostname}/uptime',
    'Uptime of each host',
    UptimeResult,
    'nodeUptime',
    ['node', 'uptime'],
  ),
  'network.ping.do': {
    // Sends packets but changes no state: a query.
    permission: 'network:write',
    method: 'POST',
    path: '/node/{hostname}/network/ping',
    summary: 'Ping an IPv4 or IPv6 address from each host',
    kind: 'query',
    input: PingData,
    data: PingData,
    result: PingResult,
    response: queryAnswer(PingResult),
    answer: 'query',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'networkPing',
    cli: {
      command: ['node', 'network', 'ping'],
      flags: { address: 'the IPv4 or IPv6 address to ping (not a hostname)' },
    },
  },
  'network.dns.get': {
    permission: 'network:read',
    method: 'GET',
    path: '/node/{hostname}/network/dns/{interfaceName}',
    summary: 'DNS servers and search domains of an interface on each host',
    kind: 'query',
    input: DnsGetData,
    data: DnsGetData,
    result: DnsResult,
    response: queryAnswer(DnsResult),
    answer: 'query',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'networkDnsGet',
    cli: {
      command: ['node', 'network', 'dns', 'get'],
      flags: { interface_name: 'the network interface, e.g. eth0' },
    },
  },
  'network.dns.update': {
    permission: 'network:write',
    method: 'PUT',
    path: '/node/{hostname}/network/dns',
    summary: 'Set DNS servers and/or search domains of an interface on each host',
    kind: 'modify',
    input: withRollout(DnsUpdateData),
    data: DnsUpdateData,
    result: DnsUpdateResult,
    response: changeAnswer(DnsUpdateResult),
    answer: 'change',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'networkDnsUpdate',
    cli: {
      command: ['node', 'network', 'dns', 'update'],
      flags: {
        servers: 'DNS server IP addresses, comma-separated (1.1.1.1,2.2.2.2)',
        search_domains:
          "search domains, comma-separated (corp.example,example.org); '' clears them",
        interface_name: 'the network interface, e.g. eth0',
      },
    },
  },
  'network.dns.delete': {
    permission: 'network:write',
    method: 'DELETE',
    path: '/node/{hostname}/network/dns',
    summary:
      'Remove the DNS configuration this system set on an interface, restoring the one before, on each host',
    kind: 'modify',
    input: withRollout(DnsDeleteData),
    data: DnsDeleteData,
    result: DnsDeleteResult,
    response: changeAnswer(DnsDeleteResult),
    answer: 'change',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'networkDnsDelete',
    cli: {
      command: ['node', 'network', 'dns', 'delete'],
      flags: { interface_name: 'the network interface, e.g. eth0' },
    },
  },
  'network.interface.list': networkRead(
    '/node/{hostname}/network/interface',
    'Network interfaces of each host: addresses, MAC, state, MTU (from the kernel)',
    NoData,
    InterfaceListResult,
    'networkInterfaceList',
    ['node', 'network', 'interface', 'list'],
  ),
  'network.interface.get': networkRead(
    '/node/{hostname}/network/interface/{name}',
    'One network interface of each host (from the kernel)',
    InterfaceNameData,
    InterfaceGetResult,
    'networkInterfaceGet',
    ['node', 'network', 'interface', 'get'],
    { name: NETWORK_INTERFACE_FLAG },
  ),
  'network.interface.create': networkChange(
    'POST',
    '/node/{hostname}/network/interface/{name}',
    'Configure an interface (netplan: addresses, DHCP, gateways, MTU, MAC) on each host, rolled back when the agent loses NATS',
    { data: InterfaceConfigData, result: InterfaceMutationResult },
    'networkInterfaceCreate',
    ['node', 'network', 'interface', 'create'],
  ),
  'network.interface.update': networkChange(
    'PUT',
    '/node/{hostname}/network/interface/{name}',
    "Replace an interface's configuration this system wrote (netplan) on each host, rolled back when the agent loses NATS",
    { data: InterfaceConfigData, result: InterfaceMutationResult },
    'networkInterfaceUpdate',
    ['node', 'network', 'interface', 'update'],
  ),
  'network.interface.delete': networkChange(
    'DELETE',
    '/node/{hostname}/network/interface/{name}',
    "Remove an interface's configuration this system wrote, its routes too (netplan), on each host",
    { data: InterfaceNameData, result: InterfaceMutationResult },
    'networkInterfaceDelete',
    ['node', 'network', 'interface', 'delete'],
  ),
  'network.route.list': networkRead(
    '/node/{hostname}/network/route',
    'Routes of the main table of each host, IPv4 and IPv6 (from the kernel)',
    NoData,
    RouteListResult,
    'networkRouteList',
    ['node', 'network', 'route', 'list'],
  ),
  'network.route.get': networkRead(
    '/node/{hostname}/network/route/{interfaceName}',
    'Routes through one interface of each host (from the kernel)',
    RouteInterfaceData,
    RouteListResult,
    'networkRouteGet',
    ['node', 'network', 'route', 'get'],
    { interface_name: NETWORK_INTERFACE_FLAG },
  ),
  'network.route.create': networkChange(
    'POST',
    '/node/{hostname}/network/route/{interfaceName}',
    'Add static routes through an interface (netplan) on each host, rolled back when the agent loses NATS',
    { data: RouteConfigData, result: RouteMutationResult },
    'networkRouteCreate',
    ['node', 'network', 'route', 'create'],
  ),
  'network.route.update': networkChange(
    'PUT',
    '/node/{hostname}/network/route/{interfaceName}',
    'Replace the static routes this system set through an interface (netplan) on each host',
    { data: RouteConfigData, result: RouteMutationResult },
    'networkRouteUpdate',
    ['node', 'network', 'route', 'update'],
  ),
  'network.route.delete': networkChange(
    'DELETE',
    '/node/{hostname}/network/route/{interfaceName}',
    'Remove the static routes this system set through an interface (netplan) on each host',
    { data: RouteInterfaceData, result: RouteMutationResult },
    'networkRouteDelete',
    ['node', 'network', 'route', 'delete'],
  ),
  'file.deploy': {
    permission: 'file:write',
    method: 'POST',
    path: '/node/{hostname}/file/deploy',
    summary:
      'Write an object of the file store to a path on each host (raw, or a template rendered with its facts)',
    kind: 'modify',
    input: withRollout(FileDeployInput),
    data: FileDeployData,
    object: 'object_name',
    result: FileDeployResult,
    response: changeAnswer(FileDeployResult),
    answer: 'change',
    status: 202,
    timeout: FILE_OPERATION_TIMEOUT,
    sdk: 'fileDeploy',
    cli: {
      command: ['node', 'file', 'deploy'],
      flags: {
        vars: 'template variables: name=value,name=value or a JSON object (\'{"port":8080}\')',
        content_type: 'raw (written as stored) or template (rendered with facts, vars, hostname)',
      },
    },
  },
  'file.undeploy': {
    permission: 'file:write',
    method: 'POST',
    path: '/node/{hostname}/file/undeploy',
    summary: 'Remove a file this system deployed from each host',
    kind: 'modify',
    input: withRollout(FilePathData),
    data: FilePathData,
    result: FileUndeployResult,
    response: changeAnswer(FileUndeployResult),
    answer: 'change',
    status: 202,
    timeout: FILE_OPERATION_TIMEOUT,
    sdk: 'fileUndeploy',
    cli: { command: ['node', 'file', 'undeploy'] },
  },
  'file.status': {
    permission: 'file:read',
    method: 'POST',
    path: '/node/{hostname}/file/status',
    summary: 'Whether a deployed file is in sync, drifted or missing on each host',
    kind: 'query',
    input: FilePathData,
    data: FilePathData,
    result: FileStatusResult,
    response: FileStatusResponse,
    answer: 'read',
    resultStatus: true,
    status: 200,
    timeout: FILE_OPERATION_TIMEOUT,
    sdk: 'fileStatus',
    cli: { command: ['node', 'file', 'status'] },
  },
  'service.list': {
    permission: 'service:read',
    method: 'GET',
    path: '/node/{hostname}/service',
    summary: 'Services (systemd) of each host',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: ServiceListResult,
    response: readAnswer(ServiceListResult),
    answer: 'read',
    status: 200,
    timeout: SERVICE_READ_TIMEOUT,
    sdk: 'serviceList',
    cli: { command: ['node', 'service', 'list'] },
  },
  'service.get': {
    permission: 'service:read',
    method: 'GET',
    path: '/node/{hostname}/service/{name}',
    summary: 'One service (systemd) of each host',
    kind: 'query',
    input: ServiceNameData,
    data: ServiceNameData,
    result: ServiceGetResult,
    response: readAnswer(ServiceGetResult),
    answer: 'read',
    status: 200,
    timeout: SERVICE_READ_TIMEOUT,
    sdk: 'serviceGet',
    cli: { command: ['node', 'service', 'get'], flags: { name: SERVICE_NAME_FLAG } },
  },
  'service.create': {
    permission: 'service:write',
    method: 'POST',
    path: '/node/{hostname}/service',
    summary: 'Write a service unit file from a stored object on each host',
    kind: 'modify',
    input: withRollout(ServiceCreateRequest),
    data: ServiceCreateData,
    result: ServiceMutationResult,
    response: changeAnswer(ServiceMutationResult),
    answer: 'change',
    status: 200,
    timeout: SERVICE_CHANGE_TIMEOUT,
    object: 'object',
    sdk: 'serviceCreate',
    cli: {
      command: ['node', 'service', 'create'],
      flags: {
        name: SERVICE_NAME_FLAG,
        object: 'the stored object (uploaded by POST /file) holding the unit file',
      },
    },
  },
  'service.update': {
    permission: 'service:write',
    method: 'PUT',
    path: '/node/{hostname}/service/{name}',
    summary: 'Replace a service unit file this system wrote, from a stored object, on each host',
    kind: 'modify',
    input: withRollout(ServiceUpdateRequest),
    data: ServiceUpdateData,
    result: ServiceMutationResult,
    response: changeAnswer(ServiceMutationResult),
    answer: 'change',
    status: 200,
    timeout: SERVICE_CHANGE_TIMEOUT,
    object: 'object',
    sdk: 'serviceUpdate',
    cli: {
      command: ['node', 'service', 'update'],
      flags: {
        name: SERVICE_NAME_FLAG,
        object: 'the stored object (uploaded by POST /file) holding the new unit file',
      },
    },
  },
  'service.delete': {
    permission: 'service:write',
    method: 'DELETE',
    path: '/node/{hostname}/service/{name}',
    summary: 'Stop, disable and remove a service this system wrote, on each host',
    kind: 'modify',
    input: withRollout(ServiceNameData),
    data: ServiceNameData,
    result: ServiceMutationResult,
    response: changeAnswer(ServiceMutationResult),
    answer: 'change',
    status: 200,
    timeout: SERVICE_CHANGE_TIMEOUT,
    sdk: 'serviceDelete',
    cli: { command: ['node', 'service', 'delete'], flags: { name: SERVICE_NAME_FLAG } },
  },
  'service.start': serviceAction('start', 'Start a service on each host', 'serviceStart'),
  'service.stop': serviceAction('stop', 'Stop a service on each host', 'serviceStop'),
  'service.restart': serviceAction('restart', 'Restart a service on each host', 'serviceRestart'),
  'service.enable': serviceAction(
    'enable',
    'Enable a service at boot on each host',
    'serviceEnable',
  ),
  'service.disable': serviceAction(
    'disable',
    'Disable a service at boot on each host',
    'serviceDisable',
  ),
  'package.list': {
    permission: 'package:read',
    method: 'GET',
    path: '/node/{hostname}/package',
    summary: 'Installed packages of each host (dpkg)',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: PackageListResult,
    response: readAnswer(PackageListResult),
    answer: 'read',
    status: 200,
    // dpkg-query reads its database in well under a second; room for a busy host.
    timeout: { default_s: 30, max_s: 30 },
    sdk: 'packageList',
    cli: { command: ['node', 'package', 'list'] },
  },
  'package.get': {
    permission: 'package:read',
    method: 'GET',
    path: '/node/{hostname}/package/{name}',
    summary: 'One installed package of each host (dpkg)',
    kind: 'query',
    input: PackageNameData,
    data: PackageNameData,
    result: PackageListResult,
    response: readAnswer(PackageListResult),
    answer: 'read',
    status: 200,
    timeout: { default_s: 30, max_s: 30 },
    sdk: 'packageGet',
    cli: {
      command: ['node', 'package', 'get'],
      flags: { name: 'the package name, e.g. curl' },
    },
  },
  'package.install': {
    permission: 'package:write',
    method: 'POST',
    path: '/node/{hostname}/package',
    summary: 'Install a package (by name, or from a .deb file) on each host',
    kind: 'modify',
    input: withRollout(PackageInstallData),
    data: PackageInstallData,
    result: PackageInstallResult,
    response: changeAnswer(PackageInstallResult),
    answer: 'change',
    status: 200,
    timeout: PACKAGE_CHANGE_TIMEOUT,
    sdk: 'packageInstall',
    cli: {
      command: ['node', 'package', 'install'],
      flagNames: { version: 'package-version' },
      flags: {
        name: 'the package name, e.g. curl',
        version:
          'an exact version (e.g. 7.88.1-10); without it any installed version will do, else the one apt picks',
        path: 'the absolute path of a .deb file already on each host, holding package --name',
        timeout: `seconds each host may take (default ${PACKAGE_CHANGE_TIMEOUT_DEFAULT_S}, at most ${PACKAGE_CHANGE_TIMEOUT_MAX_S})`,
      },
    },
  },
  'package.remove': {
    permission: 'package:write',
    method: 'DELETE',
    path: '/node/{hostname}/package/{name}',
    summary: 'Remove a package on each host',
    kind: 'modify',
    input: withRollout(PackageRemoveData),
    data: PackageRemoveData,
    result: PackageRemoveResult,
    response: changeAnswer(PackageRemoveResult),
    answer: 'change',
    status: 200,
    timeout: PACKAGE_CHANGE_TIMEOUT,
    sdk: 'packageRemove',
    cli: {
      command: ['node', 'package', 'remove'],
      flags: {
        name: 'the package name, e.g. curl',
        timeout: `seconds each host may take (default ${PACKAGE_CHANGE_TIMEOUT_DEFAULT_S}, at most ${PACKAGE_CHANGE_TIMEOUT_MAX_S})`,
      },
    },
  },
  'package.sources.update': {
    permission: 'package:write',
    method: 'POST',
    path: '/node/{hostname}/package/update',
    summary: 'Update the package lists from their sources (apt-get update) on each host',
    kind: 'modify',
    input: withRollout(SourcesUpdateData),
    data: SourcesUpdateData,
    result: SourcesUpdateResult,
    response: changeAnswer(SourcesUpdateResult),
    answer: 'change',
    status: 200,
    timeout: PACKAGE_CHANGE_TIMEOUT,
    sdk: 'packageSourcesUpdate',
    cli: {
      command: ['node', 'package', 'update'],
      flags: {
        timeout: `seconds each host may take (default ${PACKAGE_CHANGE_TIMEOUT_DEFAULT_S}, at most ${PACKAGE_CHANGE_TIMEOUT_MAX_S})`,
      },
    },
  },
  'package.updates.list': {
    permission: 'package:read',
    method: 'GET',
    path: '/node/{hostname}/package/update',
    summary: 'Packages of each host with a newer version in its package lists (apt)',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: UpdatesListResult,
    response: readAnswer(UpdatesListResult),
    answer: 'read',
    status: 200,
    // apt's simulation resolves the whole dependency tree: seconds, more on a busy host.
    timeout: { default_s: 120, max_s: 120 },
    sdk: 'packageUpdatesList',
    cli: { command: ['node', 'package', 'updates'] },
  },
  'user.list': accountRead(
    '/node/{hostname}/user',
    'Users of each host, from /etc/passwd, /etc/group and /etc/shadow',
    NoData,
    UserListResult,
    'userList',
    ['node', 'user', 'list'],
  ),
  'user.get': accountRead(
    '/node/{hostname}/user/{name}',
    'One user of each host',
    UserNameData,
    UserListResult,
    'userGet',
    ['node', 'user', 'get'],
  ),
  'user.create': accountChange(
    'POST',
    '/node/{hostname}/user',
    'Create a user on each host',
    {
      input: withRollout(UserCreateRequest),
      data: UserCreateData,
      toData: userCreateData,
      result: UserMutationResult,
    },
    'userCreate',
    ['node', 'user', 'create'],
  ),
  'user.update': accountChange(
    'PUT',
    '/node/{hostname}/user/{name}',
    "Change a user's shell, home, groups or lock on each host",
    { input: withRollout(UserUpdateData), data: UserUpdateData, result: UserMutationResult },
    'userUpdate',
    ['node', 'user', 'update'],
  ),
  'user.delete': accountChange(
    'DELETE',
    '/node/{hostname}/user/{name}',
    'Delete a user on each host, keeping its home',
    { input: withRollout(UserNameData), data: UserNameData, result: UserMutationResult },
    'userDelete',
    ['node', 'user', 'delete'],
  ),
  'user.password.set': accountChange(
    'POST',
    '/node/{hostname}/user/{name}/password',
    "Set a user's password on each host",
    {
      input: withRollout(UserPasswordRequest),
      data: UserPasswordData,
      toData: userPasswordData,
      result: UserMutationResult,
    },
    'userPasswordSet',
    ['node', 'user', 'password'],
  ),
  'user.sshkey.list': accountRead(
    '/node/{hostname}/user/{name}/ssh-key',
    'SSH authorized keys of a user on each host',
    UserNameData,
    SshKeyListResult,
    'userSshKeyList',
    ['node', 'user', 'ssh-key', 'list'],
  ),
  'user.sshkey.add': accountChange(
    'POST',
    '/node/{hostname}/user/{name}/ssh-key',
    'Add an SSH authorized key to a user on each host',
    { input: withRollout(SshKeyAddData), data: SshKeyAddData, result: SshKeyMutationResult },
    'userSshKeyAdd',
    ['node', 'user', 'ssh-key', 'add'],
  ),
  'user.sshkey.remove': accountChange(
    'DELETE',
    '/node/{hostname}/user/{name}/ssh-key/{fingerprint}',
    'Remove an SSH authorized key of a user on each host',
    {
      input: withRollout(SshKeyRemoveData),
      data: SshKeyRemoveData,
      result: SshKeyMutationResult,
    },
    'userSshKeyRemove',
    ['node', 'user', 'ssh-key', 'remove'],
  ),
  'group.list': accountRead(
    '/node/{hostname}/group',
    'Groups of each host, from /etc/group',
    NoData,
    GroupListResult,
    'groupList',
    ['node', 'group', 'list'],
  ),
  'group.get': accountRead(
    '/node/{hostname}/group/{name}',
    'One group of each host',
    GroupNameData,
    GroupListResult,
    'groupGet',
    ['node', 'group', 'get'],
  ),
  'group.create': accountChange(
    'POST',
    '/node/{hostname}/group',
    'Create a group on each host',
    { input: withRollout(GroupCreateData), data: GroupCreateData, result: GroupMutationResult },
    'groupCreate',
    ['node', 'group', 'create'],
  ),
  'group.update': accountChange(
    'PUT',
    '/node/{hostname}/group/{name}',
    "Set a group's members on each host",
    { input: withRollout(GroupUpdateData), data: GroupUpdateData, result: GroupMutationResult },
    'groupUpdate',
    ['node', 'group', 'update'],
  ),
  'group.delete': accountChange(
    'DELETE',
    '/node/{hostname}/group/{name}',
    'Delete a group on each host',
    { input: withRollout(GroupNameData), data: GroupNameData, result: GroupMutationResult },
    'groupDelete',
    ['node', 'group', 'delete'],
  ),
  'timezone.get': {
    permission: 'timezone:read',
    method: 'GET',
    path: '/node/{hostname}/timezone',
    summary: 'Timezone of each host and its offset from UTC now',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: TimezoneResult,
    response: readAnswer(TimezoneResult),
    answer: 'read',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'timezoneGet',
    cli: { command: ['node', 'timezone', 'get'] },
  },
  'timezone.update': {
    permission: 'timezone:write',
    method: 'PUT',
    path: '/node/{hostname}/timezone',
    summary: 'Set the timezone of each host (timedatectl, else /etc/localtime and /etc/timezone)',
    kind: 'modify',
    input: withRollout(TimezoneUpdateData),
    data: TimezoneUpdateData,
    result: TimezoneMutationResult,
    response: changeAnswer(TimezoneMutationResult),
    answer: 'change',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'timezoneUpdate',
    cli: {
      command: ['node', 'timezone', 'update'],
      flags: { timezone: 'a tz database name, e.g. Europe/Berlin or UTC' },
    },
  },
  'node.hostname.update': {
    permission: 'node:write',
    method: 'PUT',
    path: '/node/{hostname}/hostname',
    summary:
      "Set the host name of each host (hostnamectl, else /etc/hostname and the kernel's name); an agent named after its host takes the new name",
    kind: 'modify',
    input: withRollout(HostnameUpdateData),
    data: HostnameUpdateData,
    result: HostnameUpdateResult,
    response: changeAnswer(HostnameUpdateResult),
    answer: 'change',
    status: 202,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'nodeHostnameUpdate',
    cli: {
      command: ['node', 'hostname-update'],
      flagNames: { hostname: 'name' },
      flags: { hostname: 'the new host name, e.g. web-01' },
    },
  },
  'power.reboot': powerAction(
    'reboot',
    'Reboot after an optional delay on each host',
    'powerReboot',
  ),
  'power.shutdown': powerAction(
    'shutdown',
    'Shut down (power off) after an optional delay on each host',
    'powerShutdown',
  ),
  'process.list': {
    permission: 'process:read',
    method: 'GET',
    path: '/node/{hostname}/process',
    summary: 'Processes of each host, from /proc',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: ProcessListResult,
    response: readAnswer(ProcessListResult),
    answer: 'read',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'processList',
    cli: { command: ['node', 'process', 'list'] },
  },
  'process.get': {
    permission: 'process:read',
    method: 'GET',
    path: '/node/{hostname}/process/{pid}',
    summary: 'One process of each host, by pid',
    kind: 'query',
    input: ProcessPidData,
    data: ProcessPidData,
    toData: withPidNumber,
    result: ProcessGetResult,
    response: readAnswer(ProcessGetResult),
    answer: 'read',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'processGet',
    cli: { command: ['node', 'process', 'get'] },
  },
  'process.signal': {
    permission: 'process:execute',
    method: 'POST',
    path: '/node/{hostname}/process/{pid}/signal',
    summary: 'Send a signal to a process on each host',
    kind: 'modify',
    input: withRollout(ProcessSignalData),
    data: ProcessSignalData,
    toData: (input: Static<typeof ProcessSignalData>) => {
      const { max_concurrency: _c, max_errors: _e, ...data } = input as Record<string, unknown>;
      return withPidNumber(data);
    },
    result: ProcessSignalResult,
    response: changeAnswer(ProcessSignalResult),
    answer: 'change',
    status: 200,
    timeout: HOST_OPERATION_TIMEOUT,
    sdk: 'processSignal',
    cli: {
      command: ['node', 'process', 'signal'],
      flags: { signal: 'the signal: TERM, KILL, HUP, INT, USR1, USR2, STOP, CONT, ... or 1 to 64' },
    },
  },
  'certificate.ca.list': {
    permission: 'certificate:read',
    method: 'GET',
    path: '/node/{hostname}/certificate/ca',
    summary: 'CA certificates of the trust store of each host',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: CertificateCAListResult,
    response: readAnswer(CertificateCAListResult),
    answer: 'read',
    status: 200,
    timeout: CERTIFICATE_TIMEOUT,
    sdk: 'certificateCaList',
    cli: { command: ['node', 'certificate', 'ca', 'list'] },
  },
  'certificate.ca.create': {
    permission: 'certificate:write',
    method: 'POST',
    path: '/node/{hostname}/certificate/ca',
    summary: 'Add a CA certificate from a stored object to the trust store of each host',
    kind: 'modify',
    input: withRollout(CertificateCACreateRequest),
    data: CertificateCAData,
    result: CertificateCAMutationResult,
    response: changeAnswer(CertificateCAMutationResult),
    answer: 'change',
    status: 200,
    timeout: CERTIFICATE_TIMEOUT,
    object: 'object',
    objectCheck: 'ca-certificates',
    sdk: 'certificateCaCreate',
    cli: {
      command: ['node', 'certificate', 'ca', 'create'],
      flags: {
        name: 'the certificate name, e.g. corp-root (its file is osapi-<name>.crt)',
        object: 'the stored object (uploaded by POST /file) holding the PEM certificate',
      },
    },
  },
  'certificate.ca.update': {
    permission: 'certificate:write',
    method: 'PUT',
    path: '/node/{hostname}/certificate/ca/{name}',
    summary: 'Replace a CA certificate this system added, from a stored object, on each host',
    kind: 'modify',
    input: withRollout(CertificateCACreateRequest),
    data: CertificateCAData,
    result: CertificateCAMutationResult,
    response: changeAnswer(CertificateCAMutationResult),
    answer: 'change',
    status: 200,
    timeout: CERTIFICATE_TIMEOUT,
    object: 'object',
    objectCheck: 'ca-certificates',
    sdk: 'certificateCaUpdate',
    cli: {
      command: ['node', 'certificate', 'ca', 'update'],
      flags: {
        name: 'the certificate name given at create',
        object: 'the stored object (uploaded by POST /file) holding the new PEM certificate',
      },
    },
  },
  'certificate.ca.delete': {
    permission: 'certificate:write',
    method: 'DELETE',
    path: '/node/{hostname}/certificate/ca/{name}',
    summary: 'Remove a CA certificate this system added from the trust store of each host',
    kind: 'modify',
    input: withRollout(CertificateNameData),
    data: CertificateNameData,
    result: CertificateCAMutationResult,
    response: changeAnswer(CertificateCAMutationResult),
    answer: 'change',
    status: 200,
    timeout: CERTIFICATE_TIMEOUT,
    sdk: 'certificateCaDelete',
    cli: {
      command: ['node', 'certificate', 'ca', 'delete'],
      flags: { name: 'the certificate name given at create' },
    },
  },
  'log.list': {
    permission: 'log:read',
    method: 'GET',
    path: '/node/{hostname}/log',
    summary: 'Entries of the system journal of each host (journalctl)',
    kind: 'query',
    input: LogQueryData,
    data: LogQueryData,
    result: LogListResult,
    response: readAnswer(LogListResult),
    answer: 'read',
    status: 200,
    timeout: LOG_TIMEOUT,
    sdk: 'logList',
    cli: { command: ['node', 'log', 'list'] },
  },
  'log.source.list': {
    permission: 'log:read',
    method: 'GET',
    path: '/node/{hostname}/log/source',
    summary: 'Sources (syslog identifiers) of the system journal of each host',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: LogSourceResult,
    response: readAnswer(LogSourceResult),
    answer: 'read',
    status: 200,
    timeout: LOG_TIMEOUT,
    sdk: 'logSourceList',
    cli: { command: ['node', 'log', 'sources'] },
  },
  'log.unit.list': {
    permission: 'log:read',
    method: 'GET',
    path: '/node/{hostname}/log/unit/{name}',
    summary: 'Entries of one systemd unit in the system journal of each host',
    kind: 'query',
    input: LogUnitData,
    data: LogUnitData,
    result: LogListResult,
    response: readAnswer(LogListResult),
    answer: 'read',
    status: 200,
    timeout: LOG_TIMEOUT,
    sdk: 'logUnitList',
    cli: { command: ['node', 'log', 'unit'], flags: { name: 'the unit, e.g. ssh.service' } },
  },
  'sysctl.list': {
    permission: 'sysctl:read',
    method: 'GET',
    path: '/node/{hostname}/sysctl',
    summary: 'Sysctl parameters this system manages on each host, persisted and live',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: SysctlListResult,
    response: readAnswer(SysctlEntry),
    itemPer: 'entries',
    answer: 'read',
    status: 200,
    timeout: SYSCTL_TIMEOUT,
    sdk: 'sysctlList',
    cli: { command: ['node', 'sysctl', 'list'] },
  },
  'sysctl.get': {
    permission: 'sysctl:read',
    method: 'GET',
    path: '/node/{hostname}/sysctl/{key}',
    summary: 'One sysctl parameter of each host, persisted and live',
    kind: 'query',
    input: SysctlKeyData,
    data: SysctlKeyData,
    result: SysctlGetResult,
    response: readAnswer(SysctlGetResult),
    answer: 'read',
    status: 200,
    timeout: SYSCTL_TIMEOUT,
    sdk: 'sysctlGet',
    cli: { command: ['node', 'sysctl', 'get'], flags: { key: SYSCTL_KEY_FLAG } },
  },
  'sysctl.create': sysctlChange(
    'POST',
    '/node/{hostname}/sysctl',
    'Set a sysctl parameter now and at boot on each host',
    { input: withRollout(SysctlSetData), data: SysctlSetData },
    'sysctlCreate',
    'create',
  ),
  'sysctl.update': sysctlChange(
    'PUT',
    '/node/{hostname}/sysctl/{key}',
    'Change a sysctl parameter this system manages, now and at boot, on each host',
    { input: withRollout(SysctlSetData), data: SysctlSetData },
    'sysctlUpdate',
    'update',
  ),
  'sysctl.delete': sysctlChange(
    'DELETE',
    '/node/{hostname}/sysctl/{key}',
    'Stop persisting a sysctl parameter on each host (the live value stays until reboot)',
    { input: withRollout(SysctlKeyData), data: SysctlKeyData },
    'sysctlDelete',
    'delete',
  ),
  'ntp.get': {
    permission: 'ntp:read',
    method: 'GET',
    path: '/node/{hostname}/ntp',
    summary: 'Time synchronisation (chrony) of each host: synchronised, offset, sources',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: NtpStatus,
    response: readAnswer(NtpStatus),
    answer: 'read',
    status: 200,
    timeout: NTP_TIMEOUT,
    sdk: 'ntpGet',
    cli: { command: ['node', 'ntp', 'get'] },
  },
  'ntp.create': ntpChange(
    'POST',
    'Configure NTP servers (chrony) on each host',
    NtpServersData,
    'ntpCreate',
    'create',
  ),
  'ntp.update': ntpChange(
    'PUT',
    'Replace the NTP servers this system configured (chrony) on each host',
    NtpServersData,
    'ntpUpdate',
    'update',
  ),
  'ntp.delete': ntpChange(
    'DELETE',
    'Remove the NTP servers this system configured (chrony) on each host',
    NoData,
    'ntpDelete',
    'delete',
  ),
  'cron.list': {
    permission: 'cron:read',
    method: 'GET',
    path: '/node/{hostname}/schedule/cron',
    summary: 'Cron entries this system wrote on each host',
    kind: 'query',
    input: NoData,
    data: NoData,
    result: CronListResult,
    response: readAnswer(CronEntry),
    itemPer: 'entries',
    answer: 'read',
    status: 200,
    timeout: CRON_TIMEOUT,
    sdk: 'cronList',
    cli: { command: ['node', 'schedule', 'cron', 'list'] },
  },
  'cron.get': {
    permission: 'cron:read',
    method: 'GET',
    path: '/node/{hostname}/schedule/cron/{name}',
    summary: 'One cron entry this system wrote on each host',
    kind: 'query',
    input: CronNameData,
    data: CronNameData,
    result: CronGetResult,
    response: readAnswer(CronGetResult),
    answer: 'read',
    status: 200,
    timeout: CRON_TIMEOUT,
    sdk: 'cronGet',
    cli: { command: ['node', 'schedule', 'cron', 'get'], flags: { name: CRON_NAME_FLAG } },
  },
  'cron.create': {
    permission: 'cron:write',
    method: 'POST',
    path: '/node/{hostname}/schedule/cron',
    summary: 'Write a cron entry whose command is a stored object on each host',
    kind: 'modify',
    input: withRollout(CronCreateRequest),
    data: CronCreateData,
    result: CronMutationResult,
    response: changeAnswer(CronMutationResult),
    answer: 'change',
    status: 200,
    timeout: CRON_TIMEOUT,
    object: 'object',
    sdk: 'cronCreate',
    cli: { command: ['node', 'schedule', 'cron', 'create'], flags: CRON_FLAGS },
  },
  'cron.update': {
    permission: 'cron:write',
    method: 'PUT',
    path: '/node/{hostname}/schedule/cron/{name}',
    summary: 'Change a cron entry this system wrote on each host',
    kind: 'modify',
    input: withRollout(CronUpdateRequest),
    data: CronUpdateData,
    result: CronMutationResult,
    response: changeAnswer(CronMutationResult),
    answer: 'change',
    status: 200,
    timeout: CRON_TIMEOUT,
    object: 'object',
    sdk: 'cronUpdate',
    cli: { command: ['node', 'schedule', 'cron', 'update'], flags: CRON_FLAGS },
  },
  'cron.delete': {
    permission: 'cron:write',
    method: 'DELETE',
    path: '/node/{hostname}/schedule/cron/{name}',
    summary: 'Remove a cron entry this system wrote on each host',
    kind: 'modify',
    input: withRollout(CronNameData),
    data: CronNameData,
    result: CronMutationResult,
    response: changeAnswer(CronMutationResult),
    answer: 'change',
    status: 200,
    timeout: CRON_TIMEOUT,
    sdk: 'cronDelete',
    cli: { command: ['node', 'schedule', 'cron', 'delete'], flags: { name: CRON_NAME_FLAG } },
  },
  'docker.container.create': {
    permission: 'docker:write',
    method: 'POST',
    path: '/node/{hostname}/container/docker',
    summary: 'Create a Docker container (and start it, unless auto_start is false) on each host',
    kind: 'modify',
    input: withRollout(DockerCreateData),
    data: DockerCreateData,
    result: DockerCreateResult,
    response: changeAnswer(DockerCreateResult),
    answer: 'change',
    status: 202,
    timeout: DOCKER_TIMEOUT,
    sdk: 'dockerCreate',
    cli: {
      command: ['node', 'container', 'docker', 'create'],
      flags: {
        command: "the command and its arguments, comma separated, in place of the image's own",
        env: 'variables, comma separated: NAME=value,NAME=value',
        ports: 'published ports, comma separated: 8080:80/tcp,8443:443',
        volumes: 'mounts, comma separated: /srv/data:/data:ro',
        auto_start:
          'start the container once created (the default; --no-auto-start leaves it created)',
      },
      negatable: ['auto_start'],
    },
  },
  'docker.container.list': {
    permission: 'docker:read',
    method: 'GET',
    path: '/node/{hostname}/container/docker',
    summary: 'Docker containers of each host',
    kind: 'query',
    input: DockerListData,
    data: DockerListData,
    result: DockerListResult,
    response: readAnswer(DockerListResult),
    answer: 'read',
    status: 200,
    timeout: DOCKER_TIMEOUT,
    sdk: 'dockerList',
    cli: { command: ['node', 'container', 'docker', 'list'] },
  },
  'docker.container.get': {
    permission: 'docker:read',
    method: 'GET',
    path: '/node/{hostname}/container/docker/{id}',
    summary: 'One Docker container of each host, inspected',
    kind: 'query',
    input: DockerIdData,
    data: DockerIdData,
    result: DockerDetailResult,
    response: readAnswer(DockerDetailResult),
    answer: 'read',
    status: 200,
    timeout: DOCKER_TIMEOUT,
    sdk: 'dockerInspect',
    cli: { command: ['node', 'container', 'docker', 'inspect'], flags: { id: DOCKER_ID_FLAG } },
  },
  'docker.container.remove': {
    ...dockerAction(
      'DELETE',
      '/{id}',
      'Remove a Docker container on each host',
      DockerRemoveData,
      'dockerRemove',
      'remove',
    ),
    query: ['force'],
  },
  'docker.container.start': dockerAction(
    'POST',
    '/{id}/start',
    'Start a Docker container on each host',
    DockerIdData,
    'dockerStart',
    'start',
  ),
  'docker.container.stop': {
    ...dockerAction(
      'POST',
      '/{id}/stop',
      'Stop a Docker container on each host (killed after timeout seconds)',
      DockerStopJobData,
      'dockerStop',
      'stop',
    ),
    input: withRollout(DockerStopData),
    toData: dockerStopJobData,
    timeout: DOCKER_STOP_TIMEOUT,
  },
  'docker.container.exec': {
    permission: 'docker:execute',
    method: 'POST',
    path: '/node/{hostname}/container/docker/{id}/exec',
    summary: 'Run a command inside a Docker container on each host (under the command policy)',
    kind: 'modify',
    input: withRollout(DockerExecData),
    data: DockerExecData,
    result: DockerExecResult,
    response: changeAnswer(DockerExecResult),
    answer: 'change',
    status: 202,
    timeout: { default_s: TIMEOUT_DEFAULT_S, max_s: TIMEOUT_MAX_S },
    sdk: 'dockerExec',
    cli: {
      command: ['node', 'container', 'docker', 'exec'],
      flags: {
        id: DOCKER_ID_FLAG,
        command: 'the program and its arguments, comma separated: cat,/etc/hostname',
        env: 'variables, comma separated: NAME=value,NAME=value',
      },
    },
  },
  'docker.image.remove': {
    ...dockerAction(
      'DELETE',
      '/image/{image}',
      'Remove a Docker image on each host',
      DockerImageData,
      'dockerImageRemove',
      'image-remove',
    ),
    cli: {
      command: ['node', 'container', 'docker', 'image-remove'],
      flags: { image: 'the image: name[:tag] or its id' },
    },
    query: ['force'],
  },
  'docker.image.pull': {
    permission: 'docker:write',
    method: 'POST',
    path: '/node/{hostname}/container/docker/pull',
    summary: 'Pull a Docker image from its registry on each host',
    kind: 'modify',
    input: withRollout(DockerPullData),
    data: DockerPullData,
    result: DockerPullResult,
    response: changeAnswer(DockerPullResult),
    answer: 'change',
    status: 202,
    timeout: DOCKER_PULL_TIMEOUT,
    sdk: 'dockerPull',
    cli: { command: ['node', 'container', 'docker', 'pull'] },
  },
} as const satisfies Record<string, OperationDeclaration>;

export type Operations = typeof OPERATIONS;
export type OperationType = keyof Operations;
export const OPERATION_TYPES = Object.keys(OPERATIONS) as OperationType[];

/** What a request of this operation carries (its body, or its path's fields). */
export type OperationInput<T extends OperationType> = Static<Operations[T]['input']>;
/** The job's data as stored and as the agent reads it. */
export type OperationData<T extends OperationType> = Static<Operations[T]['data']>;
/** What one agent answers when it did the operation. */
export type OperationResult<T extends OperationType> = Static<Operations[T]['result']>;
/** The route's answer. */
export type OperationAnswer<T extends OperationType> = Static<Operations[T]['response']>;

export function isOperationType(type: unknown): type is OperationType {
  return typeof type === 'string' && Object.hasOwn(OPERATIONS, type);
}

/** Query jobs go on `jobs.query.*`, modify jobs on `jobs.modify.*`. */
export function operationCategory(type: OperationType): 'query' | 'modify' {
  return OPERATIONS[type].kind;
}

/** The permission an operation needs, on its route and through POST /job. */
export function operationPermission(type: OperationType): Permission {
  return OPERATIONS[type].permission;
}

/** The job's data for a valid input: defaults applied, rate control taken out. */
export function operationData<T extends OperationType>(
  type: T,
  input: OperationInput<T>,
): OperationData<T> {
  const decl: OperationDeclaration = OPERATIONS[type];
  if (decl.toData) return (decl.toData as (i: unknown) => unknown)(input) as OperationData<T>;
  const { max_concurrency: _c, max_errors: _e, ...data } = input as Record<string, unknown>;
  return data as OperationData<T>;
}

/**
 * The input fields the declaration marks `writeOnly`: secrets (a password).
 * Each is literal: never read for `@fact.` references, never quoted in a
 * message, and digested, never kept, for an Idempotency-Key.
 */
export function secretFields(type: OperationType): readonly string[] {
  const props = OPERATIONS[type].input.properties as Record<string, { writeOnly?: boolean }>;
  return Object.keys(props).filter((k) => props[k]?.writeOnly === true);
}

/** How long an agent may take on this job: its data's `timeout` where it has one. */
/**
 * The fields an answer's item holds beside the host's name, its status, error
 * and changed: the result's fields, or an element's where each element is an
 * item of its own (itemPer). Tables (CLI, console) show these.
 */
export function answerFields(decl: OperationDeclaration): string[] {
  const item = (decl.response.properties as { results?: { items?: { properties?: object } } })
    .results?.items?.properties;
  return Object.keys(item ?? decl.result.properties).filter(
    (k) => !['hostname', 'status', 'error', 'changed'].includes(k),
  );
}

export function operationTimeoutS(type: OperationType, data: unknown): number {
  const { default_s, max_s } = OPERATIONS[type].timeout;
  const asked = (data as { timeout?: unknown } | null)?.timeout;
  return typeof asked === 'number' && asked >= 1 && asked <= max_s ? asked : default_s;
}

/** The path's parameters besides the target, in order: each carries a field of the input. */
export function pathParams(decl: OperationDeclaration): string[] {
  return [...decl.path.matchAll(/\{([A-Za-z]+)\}/g)]
    .map((m) => m[1] as string)
    .filter((p) => p !== 'hostname');
}

/**
 * The input fields a request carries in its query string: a read's (GET)
 * fields besides its path's, and those the declaration names in `query`.
 */
export function queryFields(decl: OperationDeclaration): string[] {
  const inPath = new Set(pathParams(decl).map(fieldOfParam));
  const fields = Object.keys(decl.input.properties).filter((f) => !inPath.has(f));
  if (decl.method === 'GET') return fields;
  return fields.filter((f) => decl.query?.includes(f));
}

/**
 * A value that cannot be one segment of a path: empty, or `.` or `..`, which
 * a URL resolves away into another route (encoded too: `%2E%2E` is `..` to
 * a URL), so that a key fingerprint `..` would turn a key's removal into its
 * user's. Refused before anything is sent.
 */
export class PathSegmentError extends Error {
  override name = 'PathSegmentError';
  constructor(
    readonly field: string,
    value: string,
  ) {
    super(
      `${field}: ${value === '' ? 'must not be empty' : `"${value}" cannot be sent as part of a path (a URL would resolve it into another route)`}; nothing was sent`,
    );
  }
}

/** A value as one segment of a path, percent-encoded; throws PathSegmentError for '', '.' and '..'. */
export function pathSegment(value: string, field = 'path'): string {
  if (value === '' || value === '.' || value === '..') throw new PathSegmentError(field, value);
  return encodeURIComponent(value);
}

/** An operation's path on a target, its parameters in place from the input, encoded. */
export function operationPathOf(
  decl: OperationDeclaration,
  target: string,
  input: Record<string, unknown>,
): string {
  let path = decl.path.replace('{hostname}', pathSegment(target, 'target'));
  for (const p of pathParams(decl)) {
    const field = fieldOfParam(p);
    path = path.replace(`{${p}}`, pathSegment(String(input[field] ?? ''), field));
  }
  return path;
}

/** The input field a path parameter carries: `interfaceName` carries `interface_name`. */
export function fieldOfParam(param: string): string {
  return param.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The route as docs and help write it: `PUT /node/{target}/network/dns`. */
export function documentedRoute(decl: OperationDeclaration): string {
  return `${decl.method} ${decl.path.replace('{hostname}', '{target}')}`;
}
