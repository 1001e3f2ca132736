// The agent's job handlers, one per operation type: the agent looks the type
// up here and runs what it finds. Adding an operation means one line below.
import type { OperationType } from '../../job/operations.js';
import { execHandler, shellHandler } from './command.js';
import { diskHandler } from './disk.js';
import { dnsHandler } from './dns.js';
import { dnsUpdateHandler } from './dns-update.js';
import {
  hostnameHandler,
  loadHandler,
  memoryHandler,
  osHandler,
  statusHandler,
  uptimeHandler,
} from './node.js';
import { pingHandler } from './ping.js';
import type { HandlerContext, HandlerOutcome, JobHandler } from './types.js';

export { commandOutcome } from './command.js';
export type { HandlerContext, HandlerOutcome } from './types.js';

const HANDLERS: Record<OperationType, JobHandler> = {
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
};

/** Runs a job's operation on this host; an unknown type is a failed result, never a throw. */
export function runJob(type: string, data: unknown, ctx: HandlerContext): Promise<HandlerOutcome> {
  const handler = Object.hasOwn(HANDLERS, type) ? HANDLERS[type as OperationType] : undefined;
  if (!handler) {
    return Promise.resolve({
      status: 'failed',
      data: null,
      error: `this agent does not know the operation "${type}"; upgrade it to run this job`,
    });
  }
  return handler(data, ctx);
}
