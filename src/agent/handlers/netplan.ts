// network.interface.create|update|delete and network.route.create|update|
// delete: one netplan file per interface (agent.network.netplan_dir,
// `90-osapi-<name>.yaml`, mode 0600, marked as this system's) holds the
// interface's configuration and its static routes. A change writes the file,
// runs `netplan generate` (a refusal puts the previous file back, nothing
// applied) and `netplan apply`, then waits for the agent to reach NATS again
// (agent.network.connectivity_check_s). When it cannot, the previous file is
// put back and applied: a change that cuts the agent off undoes itself. A
// host without netplan is `skipped`.
import { unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { InterfaceConfigData, RouteItem } from '../../contract/network.js';
import type { OperationData } from '../../contract/operations.js';
import { errorText, hasErrnoCode } from '../../exec/errno.js';
import { failed, type NodeOutcome, nodeHandler } from './checked.js';
import {
  lstatIfPresent,
  needsRoot,
  readFileIfPresent,
  readOwnedFile,
  replaceFile,
  runsAsRoot,
  runTool,
  toolRunnable,
} from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import type { HandlerContext, HostSettings, JobHandler } from './types.js';

export const DEFAULT_NETPLAN_DIR = '/etc/netplan';
export const NETPLAN_MARKER = '# Managed by OSAPI';
const HEADER = `${NETPLAN_MARKER}: network.interface.* and network.route.* rewrite this file.\n`;
const DEFAULT_CHECK_S = 30;
/** How long the links are given to take the applied configuration before NATS is checked. */
const DEFAULT_SETTLE_MS = 3000;
/** generate and apply take seconds; apply restarts networkd and udev triggers. */
const NETPLAN_TIMEOUT_MS = 60_000;
const UNSUPPORTED = { unsupported: 'netplan is not installed on this host (no netplan)' } as const;

/** An interface's configuration as this system writes it: the request's fields. */
export type InterfaceConfig = Omit<InterfaceConfigData, 'name'>;

/** What one managed file holds. */
export interface ManagedInterface {
  config: InterfaceConfig;
  /** Absent: no routes set through network.route.*. */
  routes?: RouteItem[];
}

export function netplanFileName(name: string): string {
  return `90-osapi-${name}.yaml`;
}

/** Whether a file's name is one netplanFileName makes. */
function isNetplanFileName(file: string): boolean {
  return /^90-osapi-[^/]+\.yaml$/.test(file);
}

/** YAML's double-quoted scalars take JSON's strings (printable ASCII here). */
const q = (s: string) => JSON.stringify(s);

/** The request's fields, in the file's order, without the absent ones. */
export function configOf(data: InterfaceConfig): InterfaceConfig {
  const out: InterfaceConfig = {};
  if (data.dhcp4 !== undefined) out.dhcp4 = data.dhcp4;
  if (data.dhcp6 !== undefined) out.dhcp6 = data.dhcp6;
  if (data.addresses !== undefined) out.addresses = [...data.addresses];
  if (data.gateway4 !== undefined) out.gateway4 = data.gateway4;
  if (data.gateway6 !== undefined) out.gateway6 = data.gateway6;
  if (data.mtu !== undefined) out.mtu = data.mtu;
  if (data.mac_address !== undefined) out.mac_address = data.mac_address.toLowerCase();
  if (data.wakeonlan !== undefined) out.wakeonlan = data.wakeonlan;
  return out;
}

const isEmpty = (c: InterfaceConfig) => Object.keys(c).length === 0;
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The file's text: the same interface gives the same bytes, whoever writes it. */
export function netplanText(name: string, file: ManagedInterface): string {
  const c = file.config;
  const lines = [
    'network:',
    '  version: 2',
    '  ethernets:',
    `    ${q(name)}:`,
    ...(c.dhcp4 !== undefined ? [`      dhcp4: ${c.dhcp4}`] : []),
    ...(c.dhcp6 !== undefined ? [`      dhcp6: ${c.dhcp6}`] : []),
    ...(c.addresses !== undefined
      ? c.addresses.length > 0
        ? ['      addresses:', ...c.addresses.map((a) => `        - ${q(a)}`)]
        : ['      addresses: []']
      : []),
    ...(c.gateway4 !== undefined ? [`      gateway4: ${q(c.gateway4)}`] : []),
    ...(c.gateway6 !== undefined ? [`      gateway6: ${q(c.gateway6)}`] : []),
    ...(c.mtu !== undefined ? [`      mtu: ${c.mtu}`] : []),
    ...(c.mac_address !== undefined ? [`      macaddress: ${q(c.mac_address)}`] : []),
    ...(c.wakeonlan !== undefined ? [`      wakeonlan: ${c.wakeonlan}`] : []),
    ...(file.routes !== undefined
      ? [
          '      routes:',
          ...file.routes.flatMap((r) => [
            `        - to: ${q(r.to)}`,
            `          via: ${q(r.via)}`,
            ...(r.metric !== undefined ? [`          metric: ${r.metric}`] : []),
          ]),
        ]
      : []),
  ];
  return `${HEADER}${lines.join('\n')}\n`;
}

class UnreadableFile extends Error {}

function shaped<T>(ok: boolean, value: unknown, what: string): T {
  if (!ok) throw new UnreadableFile(`${what} is not as this system writes it`);
  return value as T;
}

/** What a managed file holds, read back from its YAML. */
export function parseNetplanFile(name: string, text: string): ManagedInterface {
  const doc = parse(text) as { network?: { ethernets?: Record<string, Record<string, unknown>> } };
  const entry = doc?.network?.ethernets?.[name];
  if (entry === null || typeof entry !== 'object') {
    throw new UnreadableFile(`it has no ethernets entry for ${name}`);
  }
  const bool = (k: string) => shaped<boolean>(typeof entry[k] === 'boolean', entry[k], k);
  const str = (k: string) => shaped<string>(typeof entry[k] === 'string', entry[k], k);
  const config: InterfaceConfig = {};
  if ('dhcp4' in entry) config.dhcp4 = bool('dhcp4');
  if ('dhcp6' in entry) config.dhcp6 = bool('dhcp6');
  if ('addresses' in entry) {
    const a = entry.addresses;
    config.addresses = shaped<string[]>(
      Array.isArray(a) && a.every((x) => typeof x === 'string'),
      a,
      'addresses',
    );
  }
  if ('gateway4' in entry) config.gateway4 = str('gateway4');
  if ('gateway6' in entry) config.gateway6 = str('gateway6');
  if ('mtu' in entry) config.mtu = shaped<number>(Number.isInteger(entry.mtu), entry.mtu, 'mtu');
  if ('macaddress' in entry) config.mac_address = str('macaddress');
  if ('wakeonlan' in entry) config.wakeonlan = bool('wakeonlan');
  if (!('routes' in entry)) return { config };
  const routes = shaped<unknown[]>(Array.isArray(entry.routes), entry.routes, 'routes').map((r) => {
    const route = r as Record<string, unknown>;
    const ok =
      route !== null &&
      typeof route.to === 'string' &&
      typeof route.via === 'string' &&
      (route.metric === undefined || Number.isInteger(route.metric));
    shaped(ok, r, 'a route');
    return {
      to: route.to as string,
      via: route.via as string,
      ...(route.metric !== undefined ? { metric: route.metric as number } : {}),
    };
  });
  return { config, routes };
}

/** What the change makes of the file: its next content (null: no file), or why it cannot. */
type Decision = { next: ManagedInterface | null } | { error: string };

/** What of the agent's host settings netplan changes read. */
type NetplanSettings = Pick<HostSettings, 'stateDir' | 'netplanDir' | 'netplan'> | undefined;

/** The netplan this agent runs: a stand-in's in tests. */
function netplanTool(host: NetplanSettings): string {
  return host?.netplan ?? 'netplan';
}

/** Where this agent writes its netplan files. */
function netplanDirOf(host: NetplanSettings): string {
  return host?.netplanDir ?? DEFAULT_NETPLAN_DIR;
}

function netplan(tool: string, args: string[]) {
  return runTool(tool, args, {
    // Not the job's signal: a stopping agent must still finish a roll-back it began.
    signal: new AbortController().signal,
    timeoutMs: NETPLAN_TIMEOUT_MS,
  });
}

/** Puts `text` (null: no file) at `path`. */
async function putFile(path: string, text: string | null): Promise<void> {
  if (text === null) await unlink(path).catch(() => {});
  else await replaceFile(path, text, { mode: 0o600 });
}

/** generate then apply: null when both ran, else netplan's message. */
async function generateAndApply(tool: string): Promise<string | null> {
  for (const step of ['generate', 'apply']) {
    const run = await netplan(tool, [step]);
    if (run.kind === 'missing') return 'netplan disappeared';
    if (run.kind === 'failed') return run.error;
  }
  return null;
}

/** Puts the previous file back and applies it: null when that worked, else why not. */
async function rollBack(
  tool: string,
  path: string,
  previous: string | null,
): Promise<string | null> {
  try {
    await putFile(path, previous);
  } catch (err) {
    return `putting the previous file back failed: ${errorText(err)}`;
  }
  return generateAndApply(tool);
}

type ChangeOutcome =
  | { ok: true; changed: boolean }
  | { ok: false; error: string; changed?: boolean };

/**
 * A change under way, kept in the agent's state dir from before the new file
 * is written until the change is kept or undone: an agent stopped (or killed)
 * meanwhile finds it when it starts again and undoes the change, which no one
 * checked (recoverNetplanChange).
 */
interface PendingChange {
  path: string;
  /** The file before the change; null: there was none. */
  previous: string | null;
}

const PENDING_FILE = 'netplan-pending.json';

function pendingPath(stateDir: string): string {
  return join(stateDir, PENDING_FILE);
}

async function notePending(ctx: HandlerContext, change: PendingChange): Promise<void> {
  const stateDir = ctx.host?.stateDir;
  if (stateDir) await replaceFile(pendingPath(stateDir), JSON.stringify(change), { mode: 0o600 });
}

/** Removes the record; the reason when it is still there (the next start would undo the change). */
async function clearPending(ctx: HandlerContext): Promise<string | null> {
  const stateDir = ctx.host?.stateDir;
  if (!stateDir) return null;
  const path = pendingPath(stateDir);
  try {
    await unlink(path);
    return null;
  } catch (err) {
    if (hasErrnoCode(err, 'ENOENT')) return null;
    return `the record of the change (${path}) could not be removed: ${errorText(err)}; remove it, or the agent undoes this change when it starts again`;
  }
}

/** What the recovery at start did: `ignored` when the record could not be used (nothing was put back). */
export interface NetplanRecovery {
  path: string;
  undone: boolean;
  ignored?: true;
  error?: string;
}

/**
 * At the agent's start: a change it was applying when it stopped is undone
 * (the previous file put back, generated and applied), before the agent
 * connects, since that change may be what cuts it off. Only a file of the
 * netplan directory this system writes is ever put back. Null when there was
 * nothing to undo, else what was done (for the log).
 */
export async function recoverNetplanChange(host: NetplanSettings): Promise<NetplanRecovery | null> {
  const stateDir = host?.stateDir;
  if (!stateDir) return null;
  const marker = pendingPath(stateDir);
  try {
    const text = await readFileIfPresent(marker);
    if (text === null) return null;
    const change = ownChange(text, netplanDirOf(host));
    await unlink(marker).catch(() => {});
    if (!change) {
      return {
        path: marker,
        undone: false,
        ignored: true,
        error: 'the record was not one this system writes; nothing was put back',
      };
    }
    const back = await rollBack(netplanTool(host), change.path, change.previous);
    return back === null
      ? { path: change.path, undone: true }
      : { path: change.path, undone: false, error: back };
  } catch (err) {
    return { path: marker, undone: false, ignored: true, error: errorText(err) };
  }
}

/** The change a record names, if this system wrote it: a file of its own in `netplanDir`. */
function ownChange(text: Buffer, netplanDir: string): PendingChange | null {
  try {
    const parsed = JSON.parse(text.toString('utf8')) as Partial<PendingChange>;
    const ours =
      typeof parsed.path === 'string' &&
      resolve(dirname(parsed.path)) === resolve(netplanDir) &&
      isNetplanFileName(basename(parsed.path)) &&
      (parsed.previous === null ||
        (typeof parsed.previous === 'string' && parsed.previous.startsWith(NETPLAN_MARKER)));
    return ours ? { path: parsed.path as string, previous: parsed.previous ?? null } : null;
  } catch {
    // unreadable: nothing this system can trust to put back
    return null;
  }
}

/** Writes the next file and applies it, undoing both when netplan refuses or NATS is lost. */
async function applyChange(
  ctx: HandlerContext,
  path: string,
  previous: string | null,
  next: string | null,
): Promise<ChangeOutcome> {
  const reachable = ctx.host?.natsReachable;
  if (!reachable) {
    return failed(
      'this agent cannot check its connection to NATS, so it does not apply a network change blind: nothing was changed',
    );
  }
  if (ctx.signal.aborted) return failed('the agent stopped before changing anything');
  try {
    await notePending(ctx, { path, previous });
  } catch (err) {
    return failed(
      `cannot record the change in the state dir: ${errorText(err)}; nothing was changed`,
    );
  }
  const outcome = await writeAndApply(ctx, reachable, path, previous, next);
  const left = await clearPending(ctx);
  if (!left) return outcome;
  return outcome.ok
    ? { ok: false, error: left, changed: outcome.changed }
    : { ...outcome, error: `${outcome.error}; ${left}` };
}

async function writeAndApply(
  ctx: HandlerContext,
  reachable: (withinMs: number) => Promise<boolean>,
  path: string,
  previous: string | null,
  next: string | null,
): Promise<ChangeOutcome> {
  const tool = netplanTool(ctx.host);
  try {
    await putFile(path, next);
  } catch (err) {
    return failed(`cannot write ${path}: ${errorText(err)}; nothing was changed`);
  }
  const generated = await netplan(tool, ['generate']);
  if (generated.kind !== 'ok') {
    const why = generated.kind === 'missing' ? 'netplan disappeared' : generated.error;
    await putFile(path, previous).catch(() => {});
    return failed(`netplan generate refused the new configuration: ${why}; nothing was applied`);
  }
  const applied = await netplan(tool, ['apply']);
  if (applied.kind !== 'ok') {
    const why = applied.kind === 'missing' ? 'netplan disappeared' : applied.error;
    const back = await rollBack(tool, path, previous);
    return back === null
      ? failed(`${why}; the previous configuration was put back and applied`)
      : { ok: false, error: `${why}; rolling back failed too (${back})`, changed: true };
  }
  const seconds = ctx.host?.connectivityCheckS ?? DEFAULT_CHECK_S;
  // netplan apply returns once networkd has the new files; the links change
  // after. A check at once could pass on the old addresses: it waits first.
  const settleMs = Math.min(ctx.host?.netplanSettleMs ?? DEFAULT_SETTLE_MS, seconds * 500);
  await new Promise((r) => setTimeout(r, settleMs));
  if (await reachable(seconds * 1000 - settleMs)) return { ok: true, changed: true };
  const back = await rollBack(tool, path, previous);
  const lost = `after netplan apply this agent could not reach NATS within ${seconds} s`;
  return back === null
    ? failed(`${lost}: the previous configuration was put back and applied (rolled back)`)
    : {
        ok: false,
        error: `${lost}, and rolling back failed (${back}): the new configuration may still be in place`,
        changed: true,
      };
}

/** Reads the interface's file, decides, and applies: the steps every change shares. */
async function changeInterface(
  ctx: HandlerContext,
  name: string,
  decide: (current: ManagedInterface | null) => Decision,
): Promise<ChangeOutcome | { unsupported: string }> {
  if (!(await toolRunnable(netplanTool(ctx.host)))) return UNSUPPORTED;
  if (!runsAsRoot()) return needsRoot('changing the network configuration (netplan)');
  const dir = netplanDirOf(ctx.host);
  // One change at a time on this agent: each applies the whole directory.
  return serializedOn('netplan', async () => {
    if (!(await lstatIfPresent(dir))?.isDirectory()) {
      return failed(`${dir} is not a directory: set agent.network.netplan_dir to netplan's`);
    }
    const path = join(dir, netplanFileName(name));
    const file = await readOwnedFile(path);
    if (file.kind === 'other') return failed(`${path} is not a regular file; it is left as it is`);
    const previous = file.kind === 'file' ? file.bytes.toString('utf8') : null;
    if (previous !== null && !previous.startsWith(NETPLAN_MARKER)) {
      return failed(`${path} was not written by this system; it is left as it is`);
    }
    let current: ManagedInterface | null = null;
    if (previous !== null) {
      try {
        current = parseNetplanFile(name, previous);
      } catch (err) {
        return failed(
          `cannot read ${path}: ${errorText(err)}; fix it or remove the interface's configuration (DELETE)`,
        );
      }
    }
    const decision = decide(current);
    if ('error' in decision) return failed(decision.error);
    const next = decision.next ? netplanText(name, decision.next) : null;
    if (next === previous) return { ok: true, changed: false };
    return applyChange(ctx, path, previous, next);
  });
}

type NetworkChange =
  | 'network.interface.create'
  | 'network.interface.update'
  | 'network.interface.delete'
  | 'network.route.create'
  | 'network.route.update'
  | 'network.route.delete';

/** A file with no configuration and no routes is no file. */
function orNone(file: ManagedInterface): ManagedInterface | null {
  return isEmpty(file.config) && file.routes === undefined ? null : file;
}

function interfaceDecision(
  type: NetworkChange,
  data: InterfaceConfigData,
  current: ManagedInterface | null,
): Decision {
  const name = data.name;
  const has = current !== null && !isEmpty(current.config);
  const keep = current?.routes !== undefined ? { routes: current.routes } : {};
  if (type === 'network.interface.delete') return { next: null };
  const config = configOf(data);
  if (type === 'network.interface.create' && has && !sameJson(current?.config, config)) {
    return {
      error: `${name} already has a configuration this system wrote; change it with PUT (network.interface.update)`,
    };
  }
  if (type === 'network.interface.update' && !has) {
    return {
      error: `this system has not configured ${name}: configure it first with POST (network.interface.create)`,
    };
  }
  return { next: { config, ...keep } };
}

function routeDecision(
  type: NetworkChange,
  name: string,
  routes: RouteItem[] | undefined,
  current: ManagedInterface | null,
): Decision {
  const config = current?.config ?? {};
  const has = current?.routes !== undefined;
  if (type === 'network.route.delete') return { next: orNone({ config }) };
  const next = (routes ?? []).map((r) => ({
    to: r.to,
    via: r.via,
    ...(r.metric !== undefined ? { metric: r.metric } : {}),
  }));
  if (type === 'network.route.create' && has && !sameJson(current?.routes, next)) {
    return {
      error: `${name} already has routes this system set; replace them with PUT (network.route.update)`,
    };
  }
  if (type === 'network.route.update' && !has) {
    return {
      error: `this system has set no routes through ${name}: add them first with POST (network.route.create)`,
    };
  }
  return { next: { config, routes: next } };
}

function interfaceHandler(
  type: 'network.interface.create' | 'network.interface.update' | 'network.interface.delete',
): JobHandler {
  return nodeHandler(type, async (data, ctx): Promise<NodeOutcome<typeof type>> => {
    const d = data as InterfaceConfigData;
    const out = await changeInterface(ctx, d.name, (current) =>
      interfaceDecision(type, d, current),
    );
    if ('unsupported' in out || !out.ok) return out;
    return { ok: true, result: { name: d.name, changed: out.changed } };
  });
}

function routeHandler(
  type: 'network.route.create' | 'network.route.update' | 'network.route.delete',
): JobHandler {
  return nodeHandler(type, async (data, ctx): Promise<NodeOutcome<typeof type>> => {
    const d = data as OperationData<'network.route.create'>;
    const name = d.interface_name;
    const out = await changeInterface(ctx, name, (current) =>
      routeDecision(type, name, d.routes, current),
    );
    if ('unsupported' in out || !out.ok) return out;
    return { ok: true, result: { interface: name, changed: out.changed } };
  });
}

export const interfaceCreateHandler = interfaceHandler('network.interface.create');
export const interfaceUpdateHandler = interfaceHandler('network.interface.update');
export const interfaceDeleteHandler = interfaceHandler('network.interface.delete');
export const routeCreateHandler = routeHandler('network.route.create');
export const routeUpdateHandler = routeHandler('network.route.update');
export const routeDeleteHandler = routeHandler('network.route.delete');
