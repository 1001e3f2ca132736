// The agent's job handlers, a registry keyed by operation name: the agent
// looks the type up here and runs what it finds. Each handler checks the
// job's data against its operation's schema before it runs (checked.ts), and
// answers a result, an error, or that this host does not support the
// operation (`skipped`). Adding an operation means one line below.
import type { OperationType } from '../../contract/operations.js';
import {
  certificateCreateHandler,
  certificateDeleteHandler,
  certificateListHandler,
  certificateUpdateHandler,
} from './certificate.js';
import { execHandler, shellHandler } from './command.js';
import {
  cronCreateHandler,
  cronDeleteHandler,
  cronGetHandler,
  cronListHandler,
  cronUpdateHandler,
} from './cron.js';
import { diskHandler } from './disk.js';
import { dnsHandler } from './dns.js';
import { dnsDeleteHandler } from './dns-delete.js';
import { dnsUpdateHandler } from './dns-update.js';
import {
  dockerCreateHandler,
  dockerExecHandler,
  dockerGetHandler,
  dockerImageRemoveHandler,
  dockerListHandler,
  dockerPullHandler,
  dockerRemoveHandler,
  dockerStartHandler,
  dockerStopHandler,
} from './docker.js';
import { fileDeployHandler, fileStatusHandler, fileUndeployHandler } from './file.js';
import {
  groupCreateHandler,
  groupDeleteHandler,
  groupGetHandler,
  groupListHandler,
  groupUpdateHandler,
} from './groups.js';
import { hostnameUpdateHandler } from './hostname.js';
import { logListHandler, logSourceHandler, logUnitHandler } from './log.js';
import {
  interfaceCreateHandler,
  interfaceDeleteHandler,
  interfaceUpdateHandler,
  routeCreateHandler,
  routeDeleteHandler,
  routeUpdateHandler,
} from './netplan.js';
import {
  interfaceGetHandler,
  interfaceListHandler,
  routeGetHandler,
  routeListHandler,
} from './network.js';
import {
  hostnameHandler,
  loadHandler,
  memoryHandler,
  osHandler,
  statusHandler,
  uptimeHandler,
} from './node.js';
import { ntpCreateHandler, ntpDeleteHandler, ntpGetHandler, ntpUpdateHandler } from './ntp.js';
import {
  packageGetHandler,
  packageInstallHandler,
  packageListHandler,
  packageRemoveHandler,
  packageSourcesUpdateHandler,
  packageUpdatesListHandler,
} from './package.js';
import { pingHandler } from './ping.js';
import { powerRebootHandler, powerShutdownHandler } from './power.js';
import { processGetHandler, processListHandler, processSignalHandler } from './process.js';
import {
  serviceCreateHandler,
  serviceDeleteHandler,
  serviceUpdateHandler,
} from './service-units.js';
import {
  serviceDisableHandler,
  serviceEnableHandler,
  serviceGetHandler,
  serviceListHandler,
  serviceRestartHandler,
  serviceStartHandler,
  serviceStopHandler,
} from './services.js';
import { sshKeyAddHandler, sshKeyListHandler, sshKeyRemoveHandler } from './ssh-keys.js';
import {
  sysctlCreateHandler,
  sysctlDeleteHandler,
  sysctlGetHandler,
  sysctlListHandler,
  sysctlUpdateHandler,
} from './sysctl.js';
import { timezoneGetHandler, timezoneUpdateHandler } from './timezone.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';
import {
  userCreateHandler,
  userDeleteHandler,
  userGetHandler,
  userListHandler,
  userPasswordHandler,
  userUpdateHandler,
} from './users.js';

export { commandOutcome } from './command.js';
export type { HandlerContext, HandlerOutcome, JobHandler, Unsupported } from './types.js';
export { skippedOutcome } from './types.js';

/** One handler per operation name. */
export type HandlerRegistry = Readonly<Record<OperationType, JobHandler>>;

export const HANDLERS: HandlerRegistry = {
  'command.exec.execute': execHandler,
  'command.shell.execute': shellHandler,
  'node.status.get': statusHandler,
  'node.hostname.get': hostnameHandler,
  'node.disk.get': diskHandler,
  'node.memory.get': memoryHandler,
  'node.load.get': loadHandler,
  'node.os.get': osHandler,
  'node.uptime.get': uptimeHandler,
  'network.ping.do': pingHandler,
  'network.dns.get': dnsHandler,
  'network.dns.update': dnsUpdateHandler,
  'network.dns.delete': dnsDeleteHandler,
  'network.interface.list': interfaceListHandler,
  'network.interface.get': interfaceGetHandler,
  'network.route.list': routeListHandler,
  'network.route.get': routeGetHandler,
  'network.interface.create': interfaceCreateHandler,
  'network.interface.update': interfaceUpdateHandler,
  'network.interface.delete': interfaceDeleteHandler,
  'network.route.create': routeCreateHandler,
  'network.route.update': routeUpdateHandler,
  'network.route.delete': routeDeleteHandler,
  'file.deploy': fileDeployHandler,
  'file.undeploy': fileUndeployHandler,
  'file.status': fileStatusHandler,
  'service.list': serviceListHandler,
  'service.get': serviceGetHandler,
  'service.create': serviceCreateHandler,
  'service.update': serviceUpdateHandler,
  'service.delete': serviceDeleteHandler,
  'service.start': serviceStartHandler,
  'service.stop': serviceStopHandler,
  'service.restart': serviceRestartHandler,
  'service.enable': serviceEnableHandler,
  'service.disable': serviceDisableHandler,
  'package.list': packageListHandler,
  'package.get': packageGetHandler,
  'package.install': packageInstallHandler,
  'package.remove': packageRemoveHandler,
  'package.sources.update': packageSourcesUpdateHandler,
  'package.updates.list': packageUpdatesListHandler,
  'user.list': userListHandler,
  'user.get': userGetHandler,
  'user.create': userCreateHandler,
  'user.update': userUpdateHandler,
  'user.delete': userDeleteHandler,
  'user.password.set': userPasswordHandler,
  'user.sshkey.list': sshKeyListHandler,
  'user.sshkey.add': sshKeyAddHandler,
  'user.sshkey.remove': sshKeyRemoveHandler,
  'group.list': groupListHandler,
  'group.get': groupGetHandler,
  'group.create': groupCreateHandler,
  'group.update': groupUpdateHandler,
  'group.delete': groupDeleteHandler,
  'timezone.get': timezoneGetHandler,
  'timezone.update': timezoneUpdateHandler,
  'node.hostname.update': hostnameUpdateHandler,
  'power.reboot': powerRebootHandler,
  'power.shutdown': powerShutdownHandler,
  'process.list': processListHandler,
  'process.get': processGetHandler,
  'process.signal': processSignalHandler,
  'certificate.ca.list': certificateListHandler,
  'certificate.ca.create': certificateCreateHandler,
  'certificate.ca.update': certificateUpdateHandler,
  'certificate.ca.delete': certificateDeleteHandler,
  'log.list': logListHandler,
  'log.source.list': logSourceHandler,
  'log.unit.list': logUnitHandler,
  'cron.list': cronListHandler,
  'cron.get': cronGetHandler,
  'cron.create': cronCreateHandler,
  'cron.update': cronUpdateHandler,
  'cron.delete': cronDeleteHandler,
  'sysctl.list': sysctlListHandler,
  'sysctl.get': sysctlGetHandler,
  'sysctl.create': sysctlCreateHandler,
  'sysctl.update': sysctlUpdateHandler,
  'sysctl.delete': sysctlDeleteHandler,
  'ntp.get': ntpGetHandler,
  'ntp.create': ntpCreateHandler,
  'ntp.update': ntpUpdateHandler,
  'ntp.delete': ntpDeleteHandler,
  'docker.container.create': dockerCreateHandler,
  'docker.container.list': dockerListHandler,
  'docker.container.get': dockerGetHandler,
  'docker.container.remove': dockerRemoveHandler,
  'docker.container.start': dockerStartHandler,
  'docker.container.stop': dockerStopHandler,
  'docker.container.exec': dockerExecHandler,
  'docker.image.remove': dockerImageRemoveHandler,
  'docker.image.pull': dockerPullHandler,
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
