// How the service handlers ask systemd: through systemctl, run by argument
// list (never a shell), reading `systemctl show`, its machine-readable form:
// one `Key=Value` line per property, a blank line between units, whatever a
// description holds.
import type { OperationType } from '../../contract/operations.js';
import type { ServiceInfo } from '../../contract/services.js';
import type { NodeOutcome } from './checked.js';
import { runTool, type ToolRun } from './host-tools.js';
import type { HandlerContext } from './types.js';

export const NOT_RUNNING = 'systemd is not running on this host';

/** What `show` is asked for: all a ServiceInfo needs, and where the unit's file is. */
const PROPERTIES = [
  'Id',
  'LoadState',
  'ActiveState',
  'SubState',
  'UnitFileState',
  'Description',
  'MainPID',
  'FragmentPath',
  'LoadError',
];

/** Unit file states in which a unit starts at boot. */
const ENABLED_STATES: ReadonlySet<string> = new Set(['enabled', 'enabled-runtime']);

/** Units per `show`: a few hundred names stay far below any argument-length limit. */
const SHOW_CHUNK = 200;

/** What a `systemctl show` says of one unit, by property name. */
export type UnitProperties = Readonly<Record<string, string>>;

/** How long a reading may take; a start or stop waits for systemd's job, up to its unit's timeout. */
const READ_TIMEOUT_MS = 20_000;
export const JOB_TIMEOUT_MS = 110_000;

/** systemctl for one job: which program, and the agent's stop. */
export class Systemctl {
  constructor(
    readonly tool: string,
    private readonly signal: AbortSignal,
  ) {}

  static of(ctx: HandlerContext): Systemctl {
    return new Systemctl(ctx.host?.systemctl ?? 'systemctl', ctx.signal);
  }

  run(args: readonly string[], timeoutMs = READ_TIMEOUT_MS): Promise<ToolRun> {
    return runTool(this.tool, args, { signal: this.signal, timeoutMs });
  }

  /**
   * Null when systemd manages this host, else why not. systemctl itself is
   * asked (`is-system-running` answers `offline` where systemd is not the
   * init system), so a host with systemctl installed but another init is
   * told apart, and a stand-in systemctl answers for a test.
   */
  async absence(): Promise<string | null> {
    const run = await this.run(['is-system-running']);
    if (run.kind === 'missing') return `${NOT_RUNNING}: systemctl is not installed`;
    const state = run.stdout.trim().split('\n')[0]?.trim();
    if (state === 'offline') return NOT_RUNNING;
    if (run.kind === 'failed' && /not been booted with systemd/i.test(run.stderr)) {
      return NOT_RUNNING;
    }
    // Any other state (running, degraded, starting, maintenance, ...) is systemd.
    return null;
  }

  /** Each unit's properties, in the order asked (an unknown unit: LoadState=not-found). */
  async show(names: readonly string[]): Promise<UnitProperties[]> {
    const out: UnitProperties[] = [];
    for (let i = 0; i < names.length; i += SHOW_CHUNK) {
      const chunk = names.slice(i, i + SHOW_CHUNK);
      const run = await this.run([
        'show',
        '--no-pager',
        `--property=${PROPERTIES.join(',')}`,
        '--',
        ...chunk,
      ]);
      if (run.kind === 'missing') throw new Error(`${this.tool} disappeared`);
      if (run.kind === 'failed') throw new Error(run.error);
      const blocks = parseShow(run.stdout);
      if (blocks.length !== chunk.length) {
        throw new Error(
          `systemctl show answered for ${blocks.length} units where ${chunk.length} were asked for`,
        );
      }
      out.push(...blocks);
    }
    return out;
  }

  /** One unit's properties. */
  async showOne(name: string): Promise<UnitProperties> {
    const [props] = await this.show([name]);
    if (!props) throw new Error(`systemctl show said nothing of ${name}`);
    return props;
  }

  /** The names of every service systemd has loaded or has a unit file of; templates left out. */
  async serviceNames(): Promise<string[]> {
    const names = new Set<string>();
    for (const args of [
      ['list-units', '--type=service', '--all', '--no-legend', '--no-pager', '--plain'],
      ['list-unit-files', '--type=service', '--no-legend', '--no-pager'],
    ]) {
      const run = await this.run(args);
      if (run.kind === 'missing') throw new Error(`${this.tool} disappeared`);
      if (run.kind === 'failed') throw new Error(run.error);
      for (const name of unitNamesOf(run.stdout)) names.add(name);
    }
    return [...names].sort();
  }
}

/**
 * `systemctl show`'s output as one property map per unit. A value is all
 * after the first '=' (a description may hold '=' and spaces); a blank line
 * ends a unit.
 */
export function parseShow(stdout: string): UnitProperties[] {
  const units: Record<string, string>[] = [];
  let unit: Record<string, string> | null = null;
  for (const line of stdout.split('\n')) {
    if (line === '') {
      unit = null;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    if (!unit) {
      unit = {};
      units.push(unit);
    }
    const key = line.slice(0, eq);
    // The first wins: a value cannot add a line that takes a property's place.
    if (!Object.hasOwn(unit, key)) unit[key] = line.slice(eq + 1);
  }
  return units;
}

/**
 * The service names of list-units and list-unit-files lines: the first word
 * ending in `.service` (some versions put a `●` before a failed unit, even
 * with --plain). Templates (`getty@.service`) are not units one can show.
 */
export function unitNamesOf(stdout: string): string[] {
  const names: string[] = [];
  for (const line of stdout.split('\n')) {
    const name = line
      .trim()
      .split(/\s+/)
      .find((w) => w.endsWith('.service'));
    if (name && !name.endsWith('@.service') && !name.startsWith('-')) names.push(name);
  }
  return names;
}

/** A unit systemd knows of: loaded, or present but refused (bad-setting, masked, ...). */
export function unitExists(props: UnitProperties): boolean {
  return (props.LoadState ?? '') !== 'not-found' && (props.LoadState ?? '') !== '';
}

export function serviceInfo(
  props: UnitProperties,
  fallbackName: string,
  managed: boolean,
): ServiceInfo {
  const pid = Number.parseInt(props.MainPID ?? '', 10);
  return {
    name: props.Id || fallbackName,
    status: props.ActiveState ?? '',
    sub_state: props.SubState ?? '',
    load_state: props.LoadState ?? '',
    enabled: ENABLED_STATES.has(props.UnitFileState ?? ''),
    unit_file_state: props.UnitFileState ?? '',
    description: props.Description ?? '',
    pid: Number.isSafeInteger(pid) && pid > 0 ? pid : 0,
    managed,
  };
}

/** The one queue of this agent's service changes: no daemon-reload lands between another change's steps. */
export const SERVICE_QUEUE = 'systemd services';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export function unitDirOf(ctx: HandlerContext): string {
  return ctx.host?.unitDir ?? DEFAULT_UNIT_DIR;
}

/** Runs `work` where systemd manages the host; anywhere else the host is `skipped`. */
export async function onSystemd<T extends OperationType>(
  ctx: HandlerContext,
  work: (sc: Systemctl) => Promise<NodeOutcome<T>>,
): Promise<NodeOutcome<T>> {
  const sc = Systemctl.of(ctx);
  const absent = await sc.absence();
  if (absent) return { unsupported: absent };
  return work(sc);
}

export function doesNotExist(name: string): { ok: false; error: string } {
  return { ok: false, error: `service ${name} does not exist` };
}
