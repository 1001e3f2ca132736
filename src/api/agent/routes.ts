// GET /agent and GET /agent/{hostname} (permission agent:read): what the
// registry view knows, Ready when the last heartbeat is younger than the
// registry TTL. `?target=` previews which agents a target would reach.
import type { FastifyInstance } from 'fastify';
import {
  type AgentInfo,
  AgentInfo as AgentInfoSchema,
  AgentList,
  AgentListQuery,
  AgentParams,
} from '../../contract/agent.js';
import type { AgentView, RegistryView } from '../../job/registry-view.js';
import { parseTarget, TargetError } from '../../job/target.js';
import { ApiError } from '../errors.js';

export function agentInfo(a: AgentView, now: Date): AgentInfo {
  const { info } = a;
  return {
    hostname: info.hostname,
    status: a.ready ? 'Ready' : 'NotReady',
    labels: info.labels,
    registered_at: a.seenAt.toISOString(),
    started_at: info.started_at,
    os_info: info.os_info,
    uptime: info.uptime,
    load_average: info.load_average,
    memory: info.memory,
    heartbeat_age_s: Math.max(0, Math.floor((now.getTime() - a.seenAt.getTime()) / 1000)),
    max_jobs: info.max_jobs,
    version: info.version,
  };
}

export function registerAgentRoutes(
  app: FastifyInstance,
  deps: { registry: RegistryView; clock: { now(): Date } },
): void {
  app.get<{ Querystring: { target?: string } }>(
    '/agent',
    {
      config: { permission: 'agent:read' },
      schema: {
        summary: 'The registered agents, Ready or not; with a target, the Ready agents it reaches',
        querystring: AgentListQuery,
        response: { 200: AgentList },
      },
    },
    async (req) => {
      const now = deps.clock.now();
      let agents: AgentView[];
      if (req.query.target !== undefined) {
        try {
          agents = deps.registry.matching(parseTarget(req.query.target));
        } catch (err) {
          if (err instanceof TargetError) throw new ApiError('invalid_target', err.message);
          throw err;
        }
        // `_any` reaches one of them; the preview still lists every candidate.
      } else {
        agents = deps.registry.agents();
      }
      return { agents: agents.map((a) => agentInfo(a, now)), total: agents.length };
    },
  );

  app.get<{ Params: { hostname: string } }>(
    '/agent/:hostname',
    {
      config: { permission: 'agent:read' },
      schema: { summary: 'One agent', params: AgentParams, response: { 200: AgentInfoSchema } },
    },
    async (req) => {
      const a = deps.registry.agents().find((x) => x.info.hostname === req.params.hostname);
      if (!a) {
        throw new ApiError('not_found', `no agent named ${req.params.hostname} is registered`);
      }
      return agentInfo(a, deps.clock.now());
    },
  );
}
