// The service operations on the agent: reading services (list, get) and
// changing one's state (start, stop, restart, enable, disable) through
// systemctl. A host where systemd does not run answers `skipped`. A change
// already in place answers `changed: false` without running anything, so a
// repeat is harmless; restart always runs.
import type { OperationType } from '../../contract/operations.js';
import { normalServiceName, type ServiceInfo } from '../../contract/services.js';
import { inNameOrder } from '../name-order.js';
import { type NodeOutcome, nodeHandler } from './checked.js';
import { needsRoot, runsAsRoot } from './host-tools.js';
import { serializedOn } from './resolv-conf.js';
import { isManagedUnit } from './service-units.js';
import {
  doesNotExist,
  JOB_TIMEOUT_MS,
  onSystemd,
  SERVICE_QUEUE,
  serviceInfo,
  type UnitProperties,
  unitDirOf,
  unitExists,
} from './systemctl.js';
import type { JobHandler } from './types.js';

/** A ServiceInfo, `managed` read from the unit's file when it is in the unit directory. */
async function infoOf(props: UnitProperties, name: string, unitDir: string): Promise<ServiceInfo> {
  const id = props.Id || name;
  return serviceInfo(props, name, await isManagedUnit(unitDir, id, props.FragmentPath ?? ''));
}

export const serviceListHandler: JobHandler = nodeHandler('service.list', (_data, ctx) =>
  onSystemd<'service.list'>(ctx, async (sc) => {
    const names = await sc.serviceNames();
    const all = await sc.show(names);
    const seen = new Set<string>();
    const services: ServiceInfo[] = [];
    for (const [i, props] of all.entries()) {
      const name = names[i] as string;
      // list-units --all names units others refer to that do not exist; an alias gives its unit again.
      if (!unitExists(props) || seen.has(props.Id || name)) continue;
      seen.add(props.Id || name);
      services.push(await infoOf(props, name, unitDirOf(ctx)));
    }
    services.sort((a, b) => inNameOrder(a.name, b.name));
    return { ok: true, result: { services } };
  }),
);

export const serviceGetHandler: JobHandler = nodeHandler('service.get', (data, ctx) =>
  onSystemd<'service.get'>(ctx, async (sc) => {
    const name = normalServiceName(data.name);
    const props = await sc.showOne(name);
    if (!unitExists(props)) return doesNotExist(name);
    return { ok: true, result: { service: await infoOf(props, name, unitDirOf(ctx)) } };
  }),
);

type Action = 'start' | 'stop' | 'restart' | 'enable' | 'disable';

/** Run it, or nothing to do (already so), or why it cannot be done. */
type Plan = { run: true } | { run: false } | { refuse: string };

const ACTIVE = new Set(['active', 'reloading']);
const STOPPED = new Set(['inactive', 'failed']);
/** Unit file states `systemctl enable` turns into `enabled`. */
const ENABLEABLE = new Set(['disabled', 'enabled-runtime', 'linked', 'linked-runtime']);

function planOf(action: Action, name: string, props: UnitProperties): Plan {
  const active = props.ActiveState ?? '';
  const file = props.UnitFileState ?? '';
  switch (action) {
    case 'start':
      return { run: !ACTIVE.has(active) };
    case 'stop':
      return { run: !STOPPED.has(active) };
    case 'restart':
      return { run: true };
    case 'enable':
      if (file === 'enabled') return { run: false };
      if (ENABLEABLE.has(file)) return { run: true };
      if (file === 'masked') {
        return { refuse: `${name} is masked: unmask it (systemctl unmask) before enabling it` };
      }
      return {
        refuse: `${name} cannot be enabled: its unit file state is "${file || 'none'}"; only a unit whose file has an [Install] section (state disabled) can be`,
      };
    case 'disable':
      if (file === 'disabled') return { run: false };
      if (file === 'enabled' || file === 'enabled-runtime') return { run: true };
      return {
        refuse: `${name} cannot be disabled: its unit file state is "${file || 'none'}"; only an enabled unit can be`,
      };
  }
}

/** After enable or disable, the state the unit file must be in; start and stop are systemd's to judge. */
const EXPECTED_FILE_STATE: Partial<Record<Action, string>> = {
  enable: 'enabled',
  disable: 'disabled',
};

function actionHandler<T extends `service.${Action}` & OperationType>(
  type: T,
  action: Action,
): JobHandler {
  return nodeHandler(type, (data, ctx) =>
    serializedOn(SERVICE_QUEUE, () =>
      onSystemd<T>(ctx, async (sc) => {
        if (!runsAsRoot()) return needsRoot(`service ${action}`);
        const name = normalServiceName((data as { name: string }).name);
        const props = await sc.showOne(name);
        if (!unitExists(props)) return doesNotExist(name);
        const plan = planOf(action, name, props);
        if ('refuse' in plan) return { ok: false, error: plan.refuse };
        const result = (changed: boolean) =>
          ({ ok: true, result: { name, changed } }) as NodeOutcome<T>;
        if (!plan.run) return result(false);
        if (ctx.signal.aborted) {
          return { ok: false, error: 'the agent stopped before changing anything' };
        }
        const run = await sc.run([action, '--no-ask-password', '--', name], JOB_TIMEOUT_MS);
        if (run.kind !== 'ok') {
          return {
            ok: false,
            error: run.kind === 'missing' ? `${sc.tool} disappeared` : run.error,
          };
        }
        const expected = EXPECTED_FILE_STATE[action];
        if (expected) {
          const now = (await sc.showOne(name)).UnitFileState ?? '';
          if (now !== expected) {
            return {
              ok: false,
              error: `systemctl ${action} ran but ${name} is still "${now}": ${run.stderr.trim() || 'systemctl said nothing'}`,
            };
          }
        }
        return result(true);
      }),
    ),
  );
}

export const serviceStartHandler = actionHandler('service.start', 'start');
export const serviceStopHandler = actionHandler('service.stop', 'stop');
export const serviceRestartHandler = actionHandler('service.restart', 'restart');
export const serviceEnableHandler = actionHandler('service.enable', 'enable');
export const serviceDisableHandler = actionHandler('service.disable', 'disable');
