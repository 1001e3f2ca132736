// Reading what dpkg and apt print: dpkg-query's package records, a .deb's
// control fields, apt-get's simulation lines, and the messages both give when
// another run holds their lock. Pure functions, so they are tested on
// captured output.
import type { PackageInfo, UpdateInfo } from '../../contract/package.js';

/** The fields read, in order; the summary (the description's first line) last. */
const QUERY_FIELDS = [
  'Package',
  'Version',
  'Architecture',
  'db:Status-Status',
  'Installed-Size',
  'binary:Summary',
];

/**
 * dpkg-query's format, `${Package}\t${Version}…\n` (dpkg-query turns `\t`
 * and `\n` into a tab and a newline): one package a line, its fields split by
 * tabs. No field holds a tab or a newline but the summary, which by being a
 * first line holds no newline; it comes last, so a tab in it stays in it.
 */
export const DPKG_QUERY_FORMAT = `${QUERY_FIELDS.map((f) => `\${${f}}`).join('\\t')}\\n`;

/** The states in which a package has no files on the host: not installed, whatever the database remembers. */
const ABSENT_STATES: ReadonlySet<string> = new Set(['not-installed', 'config-files']);

/** Each record dpkg-query printed in DPKG_QUERY_FORMAT, whatever its state. */
export function parseDpkgQuery(text: string): PackageInfo[] {
  const packages: PackageInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split('\t');
    if (fields.length < 6) continue;
    const [name = '', version = '', architecture = '', status = '', size = ''] = fields;
    const info: PackageInfo = {
      name,
      version,
      architecture,
      description: fields.slice(5).join('\t').trim(),
      status,
    };
    // dpkg counts Installed-Size in KiB; a package built without one has none.
    if (/^\d+$/.test(size)) info.size = Number(size) * 1024;
    packages.push(info);
  }
  return packages;
}

/** Whether the package's files are on the host (installed, or left part way by a run that did not finish). */
export function isPresent(p: PackageInfo): boolean {
  return !ABSENT_STATES.has(p.status);
}

/** Whether the package is installed and configured: what an install makes it. */
export function isInstalled(p: PackageInfo): boolean {
  return p.status === 'installed';
}

/** `dpkg-deb -f FILE Package Version` prints `Field: value` lines. */
export function parseControlFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(line);
    if (m?.[1]) fields[m[1]] = (m[2] ?? '').trim();
  }
  return fields;
}

/** `libc6:i386` → name `libc6`, architecture `i386`; apt qualifies only foreign packages. */
function splitArch(qualified: string, fallback: string): { name: string; architecture: string } {
  const colon = qualified.indexOf(':');
  return colon < 0
    ? { name: qualified, architecture: fallback }
    : { name: qualified.slice(0, colon), architecture: qualified.slice(colon + 1) };
}

// `Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])`, at times
// followed by ` []`; a package new to the host has no `[current]`.
const INST_LINE = /^Inst (\S+) \[([^\]]+)\] \((\S+) .*\[([^\]\s]+)\]\)/;
const REMV_LINE = /^Remv (\S+)/;

/** What `apt-get -s …` would do: the upgrades (installed packages with a new version) and removals. */
export function parseAptSimulation(text: string): { upgrades: UpdateInfo[]; removals: string[] } {
  const upgrades: UpdateInfo[] = [];
  const removals: string[] = [];
  for (const line of text.split('\n')) {
    const inst = INST_LINE.exec(line);
    if (inst) {
      const [, qualified = '', current = '', next = '', arch = ''] = inst;
      const { name, architecture } = splitArch(qualified, arch);
      upgrades.push({ name, architecture, current_version: current, new_version: next });
      continue;
    }
    const remv = REMV_LINE.exec(line);
    if (remv?.[1]) removals.push(splitArch(remv[1], '').name);
  }
  return { upgrades, removals };
}

/** A package and version a simulation names. */
export interface SimulatedPackage {
  name: string;
  version: string;
}

// Any package apt would unpack, new to the host (`Inst NAME (VERSION ORIGIN [ARCH])`)
// or replacing a version (`Inst NAME [CURRENT] (VERSION …)`), and any it would configure.
const ANY_INST_LINE = /^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) /;
const CONF_LINE = /^Conf (\S+) \((\S+) /;

/**
 * What `apt-get -s install …` would put on the host: each package it would
 * unpack (`Inst`), then each it would only configure (`Conf`, e.g. one a
 * run left unpacked), once each, without the architecture qualifier.
 */
export function simulatedInstalls(text: string): SimulatedPackage[] {
  const found: SimulatedPackage[] = [];
  const seen = new Set<string>();
  for (const pattern of [ANY_INST_LINE, CONF_LINE]) {
    for (const line of text.split('\n')) {
      const m = pattern.exec(line);
      if (!m?.[1] || !m[2]) continue;
      const { name } = splitArch(m[1], '');
      const key = `${name}=${m[2]}`;
      if (seen.has(key)) continue;
      seen.add(key);
      found.push({ name, version: m[2] });
    }
  }
  return found;
}

/**
 * What apt or dpkg says of dependencies it cannot meet, one sentence; '' when
 * it says nothing of them. apt lists them on stdout ("The following packages
 * have unmet dependencies:"), its error on stderr saying only that it could
 * not "correct problems"; dpkg under "dependency problems prevent
 * configuration of X:", its last words naming only the package.
 */
export function unmetDependencies(output: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((l) =>
    /have unmet dependencies:\s*$|dependency problems prevent configuration of \S+:\s*$/.test(l),
  );
  if (start < 0) return '';
  const list: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^\s/.test(line) || line.trim() === '') break;
    list.push(line.trim().replace(/\s+/g, ' '));
  }
  return list.join('; ').replaceAll(':; ', ': ');
}

/** apt's `Get:` lines: an index fetched anew (`Hit:` is one that had not changed). */
export function fetchedSomething(aptUpdateOutput: string): boolean {
  return /^Get:/m.test(aptUpdateOutput);
}

/** apt's warnings (`W: …` lines), without the prefix. */
export function aptWarnings(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('W: '))
    .map((l) => l.slice(3).trim());
}

const LOCK_MESSAGES = [
  /Could not get lock/,
  /Unable to acquire the dpkg frontend lock/,
  /Unable to lock (?:the administration )?directory/,
  /dpkg[^\n]*\block\b[^\n]*\blocked by another process/,
  /dpkg status database is locked by another process/,
];

/**
 * The error for a run that found another holding the lock it needs, or null
 * when the output says nothing of a lock. apt says "Could not get lock
 * /var/lib/dpkg/lock-frontend. It is held by process 123 (apt-get)"; dpkg
 * "dpkg frontend lock was locked by another process with pid 123" (older
 * ones "… is locked by another process", without the pid).
 */
export function lockProblem(output: string): string | null {
  if (!LOCK_MESSAGES.some((m) => m.test(output))) return null;
  const held = /held by process (\d+)(?: \(([^)\n]*)\))?/.exec(output);
  const pid = held?.[1] ?? /locked by another process with pid (\d+)/.exec(output)?.[1];
  const who = pid ? ` (pid ${pid}${held?.[2] ? `, ${held[2]}` : ''})` : '';
  const lists = /(?:get lock|lock directory) \/var\/lib\/apt\/lists/.test(output);
  return lists
    ? `the package lists are locked by another apt run${who}; try again when it ends`
    : `the package database is locked by another apt or dpkg run${who}; try again when it ends`;
}

/** Up to ten names, then how many more: `a, b, c and 4 more`. */
export function shortList(items: readonly string[], max = 10): string {
  return items.length > max
    ? `${items.slice(0, max).join(', ')} and ${items.length - max} more`
    : items.join(', ');
}

/**
 * Why an install whose simulation printed `output` must not run, or null: it
 * would remove packages (apt's way out of a conflict, or a name it read as
 * "remove"), or it would not install the package `name` (at `version` when
 * one is wanted) itself: apt read what it was given as something else, e.g. a
 * name or version ending in `+` that no package has, which apt reads as
 * "install" the rest. `asked` is what the person gave: a name, `name=version`
 * or a file.
 */
export function installSimulationProblem(
  asked: string,
  name: string,
  version: string | undefined,
  output: string,
): string | null {
  const removals = [...new Set(parseAptSimulation(output).removals)];
  if (removals.length > 0) {
    return `installing ${asked} would remove ${shortList(removals)}; nothing was installed or removed: an install never removes other packages here (remove them first if they are to go)`;
  }
  const installs = simulatedInstalls(output);
  if (installs.some((p) => p.name === name && (version === undefined || p.version === version))) {
    return null;
  }
  const what = version === undefined ? name : `${name} ${version}`;
  const instead =
    installs.length > 0 ? shortList(installs.map((p) => `${p.name} ${p.version}`)) : 'nothing';
  const plus = /\+$/.test(asked)
    ? ': apt reads a name or version ending in \'+\' as "install" what comes before it when no package has the whole of it'
    : '';
  return `apt-get would not install ${what} for ${asked} (it would install ${instead}); nothing was installed${plus}`;
}

/**
 * Why a removal whose simulation printed `output` must not run, or null: apt
 * would take other packages with it (those that depend on it: under -y it
 * does not ask), would install something, or would not remove `name` at all.
 */
export function removeSimulationProblem(name: string, output: string): string | null {
  const { removals } = parseAptSimulation(output);
  const others = [...new Set(removals.filter((n) => n !== name))];
  if (others.length > 0) {
    return `removing ${name} would also remove ${shortList(others)}, which need it; nothing was removed: remove those first`;
  }
  const installs = simulatedInstalls(output);
  if (installs.length > 0) {
    return `removing ${name} would install ${shortList(installs.map((p) => `${p.name} ${p.version}`))}; nothing was removed`;
  }
  if (!removals.includes(name)) {
    return `apt-get would not remove ${name}; nothing was removed`;
  }
  return null;
}
