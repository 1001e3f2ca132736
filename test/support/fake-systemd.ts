// A stand-in systemd for the service tests, on hosts where systemd does not
// run: a temp directory holding a `systemctl` link to test/support/
// fake-systemctl (which keeps its state beside it), a unit directory for the
// agent (agent.services.unit_dir) and a "packaged" one behind it, as
// /lib/systemd/system is behind /etc/systemd/system. Handlers are given the
// link as HostSettings.systemctl; nothing of this machine's systemd is used.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, 'fake-systemctl');

export interface FakeSystemd {
  /** The stand-in's own directory (its state and call log). */
  dir: string;
  /** The program to run as systemctl: HostSettings.systemctl. */
  systemctl: string;
  /** The agent's unit directory: HostSettings.unitDir. */
  unitDir: string;
  /** Units systemd has from elsewhere (a package's), which the unit directory overrides. */
  libDir: string;
  /** Every call since the last clearCalls, one line of arguments each. */
  calls(): string[];
  clearCalls(): void;
  /** A unit file in the packaged directory, with its state. */
  addPackagedUnit(name: string, content: string, state?: UnitState): void;
  setState(name: string, state: UnitState): void;
  /** The unit's recorded state: what start, stop, enable and disable left. */
  state(name: string): UnitState;
  /** What `is-system-running` answers: `offline` is a host without systemd. */
  setSystemState(state: string): void;
  /** A name list-units shows as not-found, as systemd lists units others refer to. */
  addReferenced(name: string): void;
  remove(): void;
}

export interface UnitState {
  active?: 'active' | 'inactive' | 'failed';
  enabled?: string;
  pid?: number;
}

/** A unit file that loads: `[Service]` with the lines given (and an [Install] section unless told not). */
export function unitFile(opts: { description?: string; lines?: string[]; install?: boolean } = {}) {
  return [
    '[Unit]',
    `Description=${opts.description ?? 'a test service'}`,
    '',
    '[Service]',
    'ExecStart=/bin/true',
    ...(opts.lines ?? []),
    ...(opts.install === false ? [] : ['', '[Install]', 'WantedBy=multi-user.target']),
    '',
  ].join('\n');
}

export function makeFakeSystemd(): FakeSystemd {
  const dir = mkdtempSync(join(tmpdir(), 'osapi-fake-systemd-'));
  const systemctl = join(dir, 'systemctl');
  const unitDir = join(dir, 'etc-systemd-system');
  const libDir = join(dir, 'lib-systemd-system');
  mkdirSync(unitDir);
  mkdirSync(libDir);
  symlinkSync(SCRIPT, systemctl);
  writeFileSync(join(dir, 'unit-path'), `${unitDir}\n${libDir}\n`);
  const log = join(dir, 'calls.log');
  const stateFile = (name: string, key: string) => join(dir, 'units', name, key);
  const setState = (name: string, state: UnitState) => {
    mkdirSync(join(dir, 'units', name), { recursive: true });
    for (const [key, value] of Object.entries(state)) {
      if (value !== undefined) writeFileSync(stateFile(name, key), `${value}\n`);
    }
  };
  const read = (name: string, key: string) =>
    existsSync(stateFile(name, key))
      ? readFileSync(stateFile(name, key), 'utf8').trim()
      : undefined;
  return {
    dir,
    systemctl,
    unitDir,
    libDir,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    clearCalls: () => rmSync(log, { force: true }),
    addPackagedUnit(name, content, state) {
      writeFileSync(join(libDir, name), content);
      if (state) setState(name, state);
    },
    setState,
    state(name) {
      const pid = read(name, 'pid');
      return {
        ...(read(name, 'active') ? { active: read(name, 'active') as UnitState['active'] } : {}),
        ...(read(name, 'enabled') ? { enabled: read(name, 'enabled') } : {}),
        ...(pid ? { pid: Number(pid) } : {}),
      };
    },
    setSystemState: (state) => writeFileSync(join(dir, 'system-state'), `${state}\n`),
    addReferenced: (name) => writeFileSync(join(dir, 'referenced'), `${name}\n`, { flag: 'a' }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
