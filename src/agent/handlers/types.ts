// What every job handler on the agent takes and gives back: the job's data and
// what it may need of the agent, in; a status, a result and maybe an error, out.
import type { OutputListener } from '../../exec/index.js';
import type { FinalHostState } from '../../job/records.js';
import type { DeploymentRecords } from '../file-access.js';

export interface HandlerContext {
  /** This agent's name (agent.hostname, else the OS hostname). */
  hostname: string;
  labels: Record<string, string>;
  /** Cap per output stream of a command, as configured. */
  maxOutputBytes: number;
  /** Aborted when the agent stops: a handler still running gives up. */
  signal: AbortSignal;
  /** The resolver file read when systemd-resolved does not run; default /etc/resolv.conf. */
  resolvConfPath?: string;
  /** Where the managed domains' files live on this host (agent.* config); defaults where absent. */
  host?: HostSettings;
  /** The file store (objects uploaded by POST /file), for operations that write one to the host. */
  objects?: ObjectReader;
  /** What this agent deployed (file.deploy), one record per path. */
  deployments?: DeploymentRecords;
  /** This host's facts by `@fact.` key, for templates; absent when the agent collects none. */
  facts?: () => ReadonlyMap<string, string>;
  /** Told of a command's output as it is written (live output); other operations ignore it. */
  onOutput?: OutputListener;
  /**
   * Present when the agent's name follows the host's (agent.hostname not
   * set): re-registers the agent under `name`. Call it only once the outcome
   * is stored (HandlerOutcome.after).
   */
  renameAgent?: (name: string) => void;
}

/**
 * Reads objects of the file store. The job names the object and the digest
 * the API saw when it accepted the job (`object_sha256`); content with any
 * other digest is refused, so what reaches the host is what was signed.
 */
export interface ObjectReader {
  /** The object's bytes; throws (a message for the person who asked) when it is gone or changed. */
  read(name: string, sha256: string, signal: AbortSignal): Promise<Uint8Array>;
}

/** The agent's settings for the managed domains, from its config. */
export interface HostSettings {
  /** Where service units are written (agent.services.unit_dir). */
  unitDir: string;
  /** Where cron entries are written (agent.cron.dir); default /etc/cron.d. */
  cronDir?: string;
  /** Where cron.<interval> directories are (agent.cron.periodic_dir); default /etc. */
  cronPeriodicDir?: string;
  /** The file managed sysctl keys are persisted in (agent.sysctl.file). */
  sysctlFile?: string;
  /** The chrony sources file NTP servers are written to (agent.ntp.sources_file). */
  ntpSourcesFile?: string;
  /** The chronyc the NTP handlers run: default `chronyc` on PATH; tests give a stand-in. */
  chronyc?: string;
  /** Where the kernel's parameters are read and written (agent.sysctl.proc_dir); default /proc/sys. */
  sysctlProcDir?: string;
  /**
   * The systemctl the service handlers run: default `systemctl`, found on
   * PATH. Not in the config: tests give their agents a stand-in here.
   */
  systemctl?: string;
  /** Where CA certificates are written (agent.certificates.dir); default /usr/local/share/ca-certificates. */
  certificateDir?: string;
  /**
   * The update-ca-certificates the certificate handlers run: default found on
   * PATH. Not in the config: tests give their agents a stand-in here.
   */
  updateCaCertificates?: string;
  /**
   * The journalctl the log handlers run: default found on PATH. Not in the
   * config: tests give their agents a stand-in here.
   */
  journalctl?: string;
  /**
   * Where journald keeps its files; default /run/log/journal and
   * /var/log/journal. None existing: journald does not run (`skipped`).
   */
  journalDirs?: readonly string[];
  /**
   * The agent's state directory (state_dir): file deployments keep there
   * what a file held before they first replaced it, so undeploy puts it back.
   */
  stateDir?: string;
  /** The timezone's files (agent.timezone.*); defaults /etc/localtime, /etc/timezone, /usr/share/zoneinfo. */
  timezone?: { localtime: string; timezoneFile: string; zoneinfoDir: string };
  /** The timedatectl the timezone handlers run: default `timedatectl` on PATH. Not in the config: tests give a stand-in. */
  timedatectl?: string;
  /**
   * The directory whose presence says systemd manages the host: default
   * /run/systemd/system. Not in the config: tests point it at a temp dir.
   */
  systemdRunDir?: string;
  /** The file naming the host (agent.node.hostname_file); default /etc/hostname. */
  hostnameFile?: string;
  /** The tool setting the kernel's name: default `hostname` on PATH. Not in the config: tests give a stand-in. */
  hostnameTool?: string;
  /** The hostnamectl run where systemd runs: default `hostnamectl` on PATH. Not in the config. */
  hostnamectl?: string;
  /** The shutdown the power handlers run: default `shutdown` on PATH. Not in the config: tests give a stand-in. */
  powerTool?: string;
  /**
   * The `ip` (iproute2) the network handlers read interfaces and routes
   * with: default found on PATH. Not in the config: tests give one that runs
   * in a network namespace of their own.
   */
  ipTool?: string;
  /** Where the per-interface netplan files are written (agent.network.netplan_dir); default /etc/netplan. */
  netplanDir?: string;
  /** Seconds to reach NATS again after netplan apply (agent.network.connectivity_check_s); default 30. */
  connectivityCheckS?: number;
  /**
   * Milliseconds given to the links after netplan apply before NATS is
   * checked: default 3000 (at most half the check's time). Not in the
   * config: tests, whose stand-in changes no link, give 0.
   */
  netplanSettleMs?: number;
  /** The netplan the network changes run: default found on PATH. Not in the config: tests give a stand-in. */
  netplan?: string;
  /**
   * Whether this agent reaches NATS within `withinMs` (a round trip to the
   * server), asked after netplan apply. Set by the agent from its
   * connection; tests give a stand-in.
   */
  natsReachable?: (withinMs: number) => Promise<boolean>;
  /** The Docker Engine's unix socket (agent.docker.socket); default /var/run/docker.sock. */
  dockerSocket?: string;
  /** The kernel's name as the handler reads it: default the OS's. Not in the config: tests give the stand-in's. */
  kernelHostname?: () => string;
}

export interface HandlerOutcome {
  status: 'completed' | 'failed';
  /** The operation's result, shaped by its schema (src/job), or null when there is none. */
  data: unknown;
  /** Set when the agent could not do it: a sentence for the person who asked. */
  error?: string;
  /** A short note for the job's status event (e.g. `exit code 0`). */
  message?: string;
  /** How this host's part ended; without one, `completed` is succeeded and `failed` is failed. */
  state?: FinalHostState;
  /** Live output chunks sent for this run, so a follower knows when it has them all. */
  outputChunks?: number;
  /**
   * Run by the agent once this outcome is stored, never before: what must
   * not happen until the answer is safe (a reboot). It must not throw.
   */
  after?: () => void;
}

export type JobHandler = (data: unknown, ctx: HandlerContext) => Promise<HandlerOutcome>;

/**
 * What a handler answers when this host cannot do the operation at all (a
 * platform lacking the tool it needs): the host's part is `skipped`, with the
 * reason as its error, and does not count as succeeded.
 */
export interface Unsupported {
  unsupported: string;
}

/** The outcome of an operation this host does not support: `skipped`, the reason as the error. */
export function skippedOutcome(reason: string): HandlerOutcome {
  return { status: 'failed', state: 'skipped', data: null, error: reason };
}
