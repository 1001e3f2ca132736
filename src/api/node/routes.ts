// The node information routes (node:read) and the network routes
// (network:read, network:write); the DNS update is in
// dns-update.ts. Like the command routes, they never touch the host: each
// publishes a job, waits through the job service for every agent the target
// reaches, and answers one item per agent.
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import {
  INTERFACE_EXPECTED,
  isInterfaceName,
  NODE_RESULT_SCHEMAS,
  type NodeOperationType,
  type PingData,
} from '../../job/node-operations.js';
import type { AuthUser } from '../auth.js';
import type { DispatchResult } from '../dispatch.js';
import { ApiError } from '../errors.js';
import { type JobService, NODE_TIMEOUT_MS } from '../job-service.js';
import { registerDnsUpdateRoute } from './dns-update.js';
import {
  DiskResponse,
  DnsParams,
  DnsResponse,
  HostnameResponse,
  LoadResponse,
  MemoryResponse,
  type NodeAnswer,
  NodeParams,
  OsResponse,
  PingRequest,
  PingResponse,
  StatusResponse,
  UptimeResponse,
} from './schemas.js';
import { nodeOperationData } from './validate.js';

export { NODE_TIMEOUT_MS } from '../job-service.js';

const resultCheckers = Object.fromEntries(
  Object.entries(NODE_RESULT_SCHEMAS).map(([t, s]) => [t, Compile(s)]),
) as Record<NodeOperationType, ReturnType<typeof Compile>>;

/** Runs a node operation on a target through the job service and builds the answer. */
export type NodeRun = (
  type: NodeOperationType,
  target: string,
  data: unknown,
  user: AuthUser | undefined,
) => Promise<NodeAnswer>;

/** One item per agent that answered, then one per expected agent that did not. */
export function nodeAnswer(type: NodeOperationType, r: DispatchResult): NodeAnswer {
  const check = resultCheckers[type];
  const results: NodeAnswer['results'] = r.responses.map((resp) => {
    const base = {
      hostname: resp.hostname,
      status: resp.status,
      ...(resp.error !== undefined ? { error: resp.error } : {}),
    };
    if (resp.data === null || resp.data === undefined) return base;
    // What an agent stored is input too: an agent of another version may answer otherwise.
    if (!check.Check(resp.data)) {
      return {
        ...base,
        status: 'failed' as const,
        error: `the agent answered ${type} with a result this API does not understand; is it running another version?`,
      };
    }
    return { ...(resp.data as Record<string, unknown>), ...base };
  });
  for (const hostname of r.missing) {
    results.push({
      hostname,
      status: 'no_answer',
      error: `no answer from this agent within ${NODE_TIMEOUT_MS / 1000} s plus a margin; it was Ready when the job was sent`,
    });
  }
  if (results.length === 0 || results.every((x) => x.status === 'no_answer')) {
    throw new ApiError(
      'no_agent_answered',
      `no agent answered ${type} within ${(r.waitedMs / 1000).toFixed(1)} s; job ${r.jobId} stays recorded`,
      { job_id: r.jobId, missing: r.missing },
    );
  }
  return { job_id: r.jobId, results };
}

/** The information routes: path after `/node/{target}`, operation, summary, answer. */
const INFO_ROUTES: Array<[string, NodeOperationType, string, TSchema]> = [
  ['', 'node.status.get', 'Uptime, load, memory, disks and OS of each host', StatusResponse],
  ['/hostname', 'node.hostname.get', 'Hostname and labels of each agent', HostnameResponse],
  ['/disk', 'node.disk.get', 'Mounted local filesystems of each host', DiskResponse],
  ['/memory', 'node.memory.get', 'Memory of each host, in bytes', MemoryResponse],
  ['/load', 'node.load.get', 'Load averages of each host', LoadResponse],
  ['/os', 'node.os.get', 'OS distribution and version of each host', OsResponse],
  ['/uptime', 'node.uptime.get', 'Uptime of each host', UptimeResponse],
];

export function registerNodeRoutes(app: FastifyInstance, jobs: JobService): void {
  const run: NodeRun = async (type, target, data, user) => {
    // No Idempotency-Key here: a query changes nothing, and the DNS update sets a state.
    const outcome = await jobs.submit({ operation: { type, data }, target, user, mode: 'wait' });
    if (outcome.kind === 'submitted')
      throw new Error('a waiting submission answered without waiting');
    return nodeAnswer(type, outcome.result);
  };
  const schema = (
    summary: string,
    response: FastifySchema['response'],
    extra: FastifySchema = {},
  ) => ({
    summary,
    params: NodeParams,
    ...extra,
    response,
  });

  for (const [suffix, type, summary, response] of INFO_ROUTES) {
    app.get<{ Params: { hostname: string } }>(
      `/node/:hostname${suffix}`,
      { config: { permission: 'node:read' }, schema: schema(summary, { 200: response }) },
      async (req) => run(type, req.params.hostname, {}, req.user),
    );
  }

  app.post<{ Params: { hostname: string }; Body: PingData }>(
    '/node/:hostname/network/ping',
    {
      config: { permission: 'network:write' },
      schema: schema(
        'Ping an IP address from each host',
        { 200: PingResponse },
        { body: PingRequest },
      ),
    },
    async (req) => {
      const data = nodeOperationData('network.ping.do', req.body);
      return run('network.ping.do', req.params.hostname, data, req.user);
    },
  );

  app.get<{ Params: { hostname: string; interfaceName: string } }>(
    '/node/:hostname/network/dns/:interfaceName',
    {
      config: { permission: 'network:read' },
      schema: {
        ...schema('DNS servers and search domains of an interface', { 200: DnsResponse }),
        params: DnsParams,
      },
    },
    async (req) => {
      const name = req.params.interfaceName;
      if (!isInterfaceName(name)) {
        throw new ApiError(
          'invalid_request',
          `invalid params: interfaceName ${INTERFACE_EXPECTED}`,
          { fields: [{ field: 'interfaceName', message: INTERFACE_EXPECTED }] },
        );
      }
      return run('network.dns.get', req.params.hostname, { interface_name: name }, req.user);
    },
  );

  registerDnsUpdateRoute(app, run);
}
