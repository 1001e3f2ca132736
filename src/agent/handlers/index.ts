// The agent's job handlers, a registry keyed by operation name: the agent
// looks the type up here and runs what it finds. Each handler checks the
// job's data against its operation's schema before it runs (checked.ts), and
// answers a result, an error, or that this host does not support the
// operation (`skipped`). Adding an operation means one line below.
//
// Each domain's module is loaded when its first job comes, not at start: an
// idle agent holds only what it runs (its memory is most of what a fleet
// costs its hosts), and a host never asked about Docker or netplan never
// loads that code.
import type { OperationType } from '../../contract/operations.js';
import { execHandler, shellHandler } from './command.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

export { commandOutcome } from './command.js';
export type { HandlerContext, HandlerOutcome, JobHandler, Unsupported } from './types.js';
export { skippedOutcome } from './types.js';

/** A handler taken from its module the first time it runs; the module is loaded once. */
function lazy<M>(load: () => Promise<M>, pick: (m: M) => JobHandler): JobHandler {
  let handler: Promise<JobHandler> | undefined;
  return async (data, ctx) => {
    handler ??= load().then(pick);
    return (await handler)(data, ctx);
  };
}

const certificateModule = () => import('./certificate.js');
const cronModule = () => import('./cron.js');
const diskModule = () => import('./disk.js');
const dnsDeleteModule = () => import('./dns-delete.js');
const dnsUpdateModule = () => import('./dns-update.js');
const dnsModule = () => import('./dns.js');
const dockerModule = () => import('./docker.js');
const fileModule = () => import('./file.js');
const groupsModule = () => import('./groups.js');
const hostnameModule = () => import('./hostname.js');
const logModule = () => import('./log.js');
const netplanModule = () => import('./netplan.js');
const networkModule = () => import('./network.js');
const nodeModule = () => import('./node.js');
const ntpModule = () => import('./ntp.js');
const packageModule = () => import('./package.js');
const pingModule = () => import('./ping.js');
const powerModule = () => import('./power.js');
const processModule = () => import('./process.js');
const serviceUnitsModule = () => import('./service-units.js');
const servicesModule = () => import('./services.js');
const sshKeysModule = () => import('./ssh-keys.js');
const sysctlModule = () => import('./sysctl.js');
const timezoneModule = () => import('./timezone.js');
const usersModule = () => import('./users.js');

/** One handler per operation name. */
export type HandlerRegistry = Readonly<Record<OperationType, JobHandler>>;

export const HANDLERS: HandlerRegistry = {
  'command.exec.execute': execHandler,
  'command.shell.execute': shellHandler,
  'node.status.get': lazy(nodeModule, (m) => m.statusHandler),
  'node.hostname.get': lazy(nodeModule, (m) => m.hostnameHandler),
  'node.disk.get': lazy(diskModule, (m) => m.diskHandler),
  'node.memory.get': lazy(nodeModule, (m) => m.memoryHandler),
  'node.load.get': lazy(nodeModule, (m) => m.loadHandler),
  'node.os.get': lazy(nodeModule, (m) => m.osHandler),
  'node.uptime.get': lazy(nodeModule, (m) => m.uptimeHandler),
  'network.ping.do': lazy(pingModule, (m) => m.pingHandler),
  'network.dns.get': lazy(dnsModule, (m) => m.dnsHandler),
  'network.dns.update': lazy(dnsUpdateModule, (m) => m.dnsUpdateHandler),
  'network.dns.delete': lazy(dnsDeleteModule, (m) => m.dnsDeleteHandler),
  'network.interface.list': lazy(networkModule, (m) => m.interfaceListHandler),
  'network.interface.get': lazy(networkModule, (m) => m.interfaceGetHandler),
  'network.route.list': lazy(networkModule, (m) => m.routeListHandler),
  'network.route.get': lazy(networkModule, (m) => m.routeGetHandler),
  'network.interface.create': lazy(netplanModule, (m) => m.interfaceCreateHandler),
  'network.interface.update': lazy(netplanModule, (m) => m.interfaceUpdateHandler),
  'network.interface.delete': lazy(netplanModule, (m) => m.interfaceDeleteHandler),
  'network.route.create': lazy(netplanModule, (m) => m.routeCreateHandler),
  'network.route.update': lazy(netplanModule, (m) => m.routeUpdateHandler),
  'network.route.delete': lazy(netplanModule, (m) => m.routeDeleteHandler),
  'file.deploy': lazy(fileModule, (m) => m.fileDeployHandler),
  'file.undeploy': lazy(fileModule, (m) => m.fileUndeployHandler),
  'file.status': lazy(fileModule, (m) => m.fileStatusHandler),
  'service.list': lazy(servicesModule, (m) => m.serviceListHandler),
  'service.get': lazy(servicesModule, (m) => m.serviceGetHandler),
  'service.create': lazy(serviceUnitsModule, (m) => m.serviceCreateHandler),
  'service.update': lazy(serviceUnitsModule, (m) => m.serviceUpdateHandler),
  'service.delete': lazy(serviceUnitsModule, (m) => m.serviceDeleteHandler),
  'service.start': lazy(servicesModule, (m) => m.serviceStartHandler),
  'service.stop': lazy(servicesModule, (m) => m.serviceStopHandler),
  'service.restart': lazy(servicesModule, (m) => m.serviceRestartHandler),
  'service.enable': lazy(servicesModule, (m) => m.serviceEnableHandler),
  'service.disable': lazy(servicesModule, (m) => m.serviceDisableHandler),
  'package.list': lazy(packageModule, (m) => m.packageListHandler),
  'package.get': lazy(packageModule, (m) => m.packageGetHandler),
  'package.install': lazy(packageModule, (m) => m.packageInstallHandler),
  'package.remove': lazy(packageModule, (m) => m.packageRemoveHandler),
  'package.sources.update': lazy(packageModule, (m) => m.packageSourcesUpdateHandler),
  'package.updates.list': lazy(packageModule, (m) => m.packageUpdatesListHandler),
  'user.list': lazy(usersModule, (m) => m.userListHandler),
  'user.get': lazy(usersModule, (m) => m.userGetHandler),
  'user.create': lazy(usersModule, (m) => m.userCreateHandler),
  'user.update': lazy(usersModule, (m) => m.userUpdateHandler),
  'user.delete': lazy(usersModule, (m) => m.userDeleteHandler),
  'user.password.set': lazy(usersModule, (m) => m.userPasswordHandler),
  'user.sshkey.list': lazy(sshKeysModule, (m) => m.sshKeyListHandler),
  'user.sshkey.add': lazy(sshKeysModule, (m) => m.sshKeyAddHandler),
  'user.sshkey.remove': lazy(sshKeysModule, (m) => m.sshKeyRemoveHandler),
  'group.list': lazy(groupsModule, (m) => m.groupListHandler),
  'group.get': lazy(groupsModule, (m) => m.groupGetHandler),
  'group.create': lazy(groupsModule, (m) => m.groupCreateHandler),
  'group.update': lazy(groupsModule, (m) => m.groupUpdateHandler),
  'group.delete': lazy(groupsModule, (m) => m.groupDeleteHandler),
  'timezone.get': lazy(timezoneModule, (m) => m.timezoneGetHandler),
  'timezone.update': lazy(timezoneModule, (m) => m.timezoneUpdateHandler),
  'node.hostname.update': lazy(hostnameModule, (m) => m.hostnameUpdateHandler),
  'power.reboot': lazy(powerModule, (m) => m.powerRebootHandler),
  'power.shutdown': lazy(powerModule, (m) => m.powerShutdownHandler),
  'process.list': lazy(processModule, (m) => m.processListHandler),
  'process.get': lazy(processModule, (m) => m.processGetHandler),
  'process.signal': lazy(processModule, (m) => m.processSignalHandler),
  'certificate.ca.list': lazy(certificateModule, (m) => m.certificateListHandler),
  'certificate.ca.create': lazy(certificateModule, (m) => m.certificateCreateHandler),
  'certificate.ca.update': lazy(certificateModule, (m) => m.certificateUpdateHandler),
  'certificate.ca.delete': lazy(certificateModule, (m) => m.certificateDeleteHandler),
  'log.list': lazy(logModule, (m) => m.logListHandler),
  'log.source.list': lazy(logModule, (m) => m.logSourceHandler),
  'log.unit.list': lazy(logModule, (m) => m.logUnitHandler),
  'cron.list': lazy(cronModule, (m) => m.cronListHandler),
  'cron.get': lazy(cronModule, (m) => m.cronGetHandler),
  'cron.create': lazy(cronModule, (m) => m.cronCreateHandler),
  'cron.update': lazy(cronModule, (m) => m.cronUpdateHandler),
  'cron.delete': lazy(cronModule, (m) => m.cronDeleteHandler),
  'sysctl.list': lazy(sysctlModule, (m) => m.sysctlListHandler),
  'sysctl.get': lazy(sysctlModule, (m) => m.sysctlGetHandler),
  'sysctl.create': lazy(sysctlModule, (m) => m.sysctlCreateHandler),
  'sysctl.update': lazy(sysctlModule, (m) => m.sysctlUpdateHandler),
  'sysctl.delete': lazy(sysctlModule, (m) => m.sysctlDeleteHandler),
  'ntp.get': lazy(ntpModule, (m) => m.ntpGetHandler),
  'ntp.create': lazy(ntpModule, (m) => m.ntpCreateHandler),
  'ntp.update': lazy(ntpModule, (m) => m.ntpUpdateHandler),
  'ntp.delete': lazy(ntpModule, (m) => m.ntpDeleteHandler),
  'docker.container.create': lazy(dockerModule, (m) => m.dockerCreateHandler),
  'docker.container.list': lazy(dockerModule, (m) => m.dockerListHandler),
  'docker.container.get': lazy(dockerModule, (m) => m.dockerGetHandler),
  'docker.container.remove': lazy(dockerModule, (m) => m.dockerRemoveHandler),
  'docker.container.start': lazy(dockerModule, (m) => m.dockerStartHandler),
  'docker.container.stop': lazy(dockerModule, (m) => m.dockerStopHandler),
  'docker.container.exec': lazy(dockerModule, (m) => m.dockerExecHandler),
  'docker.image.remove': lazy(dockerModule, (m) => m.dockerImageRemoveHandler),
  'docker.image.pull': lazy(dockerModule, (m) => m.dockerPullHandler),
};

/**
 * Runs a job's operation on this host; an unknown type is a failed result,
 * never a throw. `handlers` is the registry to look in (tests give their own).
 */
export function runJob(
  type: string,
  data: unknown,
  ctx: HandlerContext,
  handlers: HandlerRegistry = HANDLERS,
): Promise<HandlerOutcome> {
  const handler = Object.hasOwn(handlers, type) ? handlers[type as OperationType] : undefined;
  if (!handler) {
    return Promise.resolve({
      status: 'failed',
      data: null,
      error: `this agent does not know the operation "${type}"; upgrade it to run this job`,
    });
  }
  return handler(data, ctx);
}
