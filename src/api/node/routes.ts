// The node information routes (node:read) and the network routes
// (network:read, network:write); the DNS update is in
// dns-update.ts. Like the command routes, they never touch the host: each
// publishes a job, waits through dispatchJob for every agent the target
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
import { parseTarget, type Target, TargetError } from '../../job/target.js';
import { type DispatchDeps, type DispatchResult, dispatchJob } from '../dispatch.js';
import { ApiError } from '../errors.js';
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

/**
 * How long the API waits for agents (plus the dispatch margin). Reading the
 * host takes milliseconds; a ping ends by its own 5 s deadline. The rest is
 * room for an agent whose job slots are all taken by running commands.
 */
export const NODE_TIMEOUT_MS = 10_000;

const resultCheckers = Object.fromEntries(
  Object.entries(NODE_RESULT_SCHEMAS).map(([t, s]) => [t, Compile(s)]),
) as Record<NodeOperationType, ReturnType<typeof Compile>>;

function target(raw: string): Target {
  try {
    return parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetError) throw new ApiError('invalid_target', err.message);
    throw err;
  }
}

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

export function registerNodeRoutes(app: FastifyInstance, deps: DispatchDeps): void {
  const run = async (type: NodeOperationType, rawTarget: string, data: unknown, who: string) => {
    const result = await dispatchJob(deps, {
      type,
      data,
      target: target(rawTarget),
      createdBy: who,
      timeoutMs: NODE_TIMEOUT_MS,
    });
    return nodeAnswer(type, result);
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
      async (req) => run(type, req.params.hostname, {}, req.user?.subject ?? 'unknown'),
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
      return run('network.ping.do', req.params.hostname, data, req.user?.subject ?? 'unknown');
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
      return run(
        'network.dns.get',
        req.params.hostname,
        { interface_name: name },
        req.user?.subject ?? 'unknown',
      );
    },
  );

  registerDnsUpdateRoute(app, run);
}
