// GET /agent and GET /agent/{hostname} (permission agent:read): what the
// registry view knows, Ready when the last heartbeat is younger than the
// registry TTL. `?target=` previews which agents a target would reach.
import type { FastifyInstance } from 'fastify';
import {
  AcceptQuery,
  type AgentInfo,
  AgentInfo as AgentInfoSchema,
  AgentList,
  AgentListQuery,
  AgentParams,
  type AgentStateChange,
  AgentStateChange as AgentStateChangeSchema,
  type EnrollmentChange,
  EnrollmentChange as EnrollmentChangeSchema,
  ListPendingAgentsResponse,
} from '../../contract/agent.js';
import {
  BUILTIN_FACT_KEYS,
  type FactKeyEntry,
  FactKeysResponse,
  type HostFacts,
} from '../../contract/facts.js';
import {
  type AgentStateView,
  type Enrollment,
  effectiveState,
} from '../../job/agent-state-view.js';
import type { FactsView } from '../../job/facts-view.js';
import type { AgentStateRecord } from '../../job/records.js';
import type { AgentView, RegistryView } from '../../job/registry-view.js';
import {
  type JobStore,
  readAgentState,
  readEnrollment,
  saveAgentState,
  saveEnrollment,
} from '../../job/store.js';
import { parseTarget, TargetError } from '../../job/target.js';
import { ApiError } from '../errors.js';
import { reachedBy } from '../targeting.js';

/** The fields an agent's facts add to its entry. */
function factFields(
  f: HostFacts | undefined,
  values: Readonly<Record<string, string>> | undefined,
): Partial<AgentInfo> {
  if (!f) return {};
  return {
    machine_id: f.machine_id,
    architecture: f.architecture,
    kernel_version: f.kernel_version,
    cpu_count: f.cpu_count,
    fqdn: f.fqdn,
    service_mgr: f.service_mgr,
    package_mgr: f.package_mgr,
    interfaces: f.interfaces,
    primary_interface: f.primary_interface,
    routes: f.routes,
    facts: { ...values },
    facts_collected_at: f.collected_at,
  };
}

export function agentInfo(
  a: AgentView,
  now: Date,
  known: {
    facts?: HostFacts | undefined;
    values?: Readonly<Record<string, string>> | undefined;
    asked?: AgentStateRecord | undefined;
    enrollment?: Enrollment;
  } = {},
): AgentInfo {
  const { facts, values, asked, enrollment = 'accepted' } = known;
  const { info } = a;
  const timeline = [...(asked?.timeline ?? []), ...(info.timeline ?? [])].sort((x, y) =>
    x.timestamp.localeCompare(y.timestamp),
  );
  return {
    ...factFields(facts, values),
    state: effectiveState(info, asked, enrollment),
    enrollment,
    ...(info.fingerprint ? { fingerprint: info.fingerprint } : {}),
    ...(info.machine_id !== undefined ? { machine_id: info.machine_id } : {}),
    ...(timeline.length > 0 ? { timeline } : {}),
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
    ...(info.conditions ? { conditions: info.conditions } : {}),
  };
}

export function registerAgentRoutes(
  app: FastifyInstance,
  deps: {
    registry: RegistryView;
    facts: FactsView;
    states: AgentStateView;
    store: JobStore;
    clock: { now(): Date };
  },
): void {
  const info = (a: AgentView, now: Date) =>
    agentInfo(a, now, {
      facts: deps.facts.get(a.info.hostname),
      values: deps.facts.values(a.info.hostname),
      asked: deps.states.get(a.info.hostname),
      enrollment: deps.states.enrollment(a.info),
    });
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
          agents = reachedBy(deps, parseTarget(req.query.target));
        } catch (err) {
          if (err instanceof TargetError) throw new ApiError('invalid_target', err.message);
          throw err;
        }
        // `_any` reaches one of them; the preview still lists every candidate.
      } else {
        agents = deps.registry.agents();
      }
      return {
        agents: agents.map((a) => info(a, now)),
        total: agents.length,
      };
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
      return info(a, deps.clock.now());
    },
  );

  // A static path: matched before /agent/:hostname.
  app.get(
    '/agent/pending',
    {
      config: { permission: 'agent:read' },
      schema: {
        summary: 'Agents whose key waits for an operator to accept it (new, or changed)',
        response: { 200: ListPendingAgentsResponse },
      },
    },
    async () => {
      const agents = deps.registry
        .agents()
        .filter((a) => a.info.fingerprint && deps.states.enrollment(a.info) === 'pending')
        .map((a) => ({
          machine_id: a.info.machine_id ?? '',
          hostname: a.info.hostname,
          fingerprint: a.info.fingerprint as string,
          requested_at: a.info.started_at,
        }));
      return { agents, total: agents.length };
    },
  );

  /** Accepts or rejects the key an agent presents now. */
  const decide = async (
    hostname: string,
    status: 'accepted' | 'rejected',
    by: string,
    fingerprint?: string,
  ): Promise<EnrollmentChange> => {
    const agent = deps.registry.agents().find((x) => x.info.hostname === hostname);
    if (!agent?.info.fingerprint || !agent.info.public_key) {
      throw new ApiError(
        'not_found',
        `no agent named ${hostname} is registered with a key (it must be running to be accepted or rejected)`,
      );
    }
    if (fingerprint !== undefined && fingerprint !== agent.info.fingerprint) {
      throw new ApiError(
        'invalid_request',
        `invalid querystring: fingerprint ${fingerprint} is not the key ${hostname} presents (${agent.info.fingerprint}); nothing was changed. Check it on the host: osapi agent key fingerprint`,
        {
          fields: [{ field: 'fingerprint', message: 'does not match the key the agent presents' }],
        },
      );
    }
    const current = await readEnrollment(deps.store, hostname);
    const record = {
      hostname,
      status,
      public_key: agent.info.public_key,
      fingerprint: agent.info.fingerprint,
      machine_id: agent.info.machine_id ?? '',
      decided_at: deps.clock.now().toISOString(),
      decided_by: by,
    };
    const revision = await saveEnrollment(deps.store, record, current?.revision ?? 0);
    if (revision === null) {
      throw new ApiError(
        'agent_state_conflict',
        `${hostname} was decided by another request at the same time; look again (GET /agent/${hostname})`,
      );
    }
    // This server's view has it at once: a job sent right after finds the agent so.
    deps.states.wroteDecision(hostname, record, revision);
    return {
      hostname,
      fingerprint: record.fingerprint,
      status,
      message:
        status === 'accepted'
          ? `${hostname} accepted with key ${record.fingerprint}: it takes jobs`
          : `${hostname} rejected with key ${record.fingerprint}: it takes no jobs`,
    };
  };

  app.post<{ Params: { hostname: string }; Querystring: { fingerprint?: string } }>(
    '/agent/:hostname/accept',
    {
      config: { permission: 'agent:write' },
      schema: {
        summary: 'Accept the key an agent presents: it takes jobs',
        params: AgentParams,
        querystring: AcceptQuery,
        response: { 200: EnrollmentChangeSchema },
      },
    },
    async (req) =>
      decide(
        req.params.hostname,
        'accepted',
        req.user?.subject ?? 'unknown',
        req.query.fingerprint,
      ),
  );
  app.post<{ Params: { hostname: string } }>(
    '/agent/:hostname/reject',
    {
      config: { permission: 'agent:write' },
      schema: {
        summary: 'Reject the key an agent presents: it takes no jobs',
        params: AgentParams,
        response: { 200: EnrollmentChangeSchema },
      },
    },
    async (req) => decide(req.params.hostname, 'rejected', req.user?.subject ?? 'unknown'),
  );

  /** Drains (true) or undrains (false) an agent; the 409 when it already is as asked. */
  const change = async (
    hostname: string,
    drain: boolean,
    by: string,
  ): Promise<AgentStateChange> => {
    const agent = deps.registry.agents().find((x) => x.info.hostname === hostname);
    for (let attempt = 0; ; attempt++) {
      const current = await readAgentState(deps.store, hostname);
      if (!agent && !current) {
        throw new ApiError('not_found', `no agent named ${hostname} is registered`);
      }
      const drained = current?.record.drained === true;
      if (drained === drain) {
        const state = effectiveState(agent?.info, current?.record);
        throw new ApiError(
          'agent_state_conflict',
          drain
            ? `${hostname} is already drained (${state}); undrain it first to change that`
            : `${hostname} is not drained (${state}); there is nothing to undrain`,
        );
      }
      const event = {
        timestamp: deps.clock.now().toISOString(),
        event: drain ? 'drained' : 'undrained',
        hostname,
        message: drain
          ? `drained by ${by}: finishes what it runs, takes nothing new`
          : `undrained by ${by}: takes jobs again`,
      };
      const record = {
        hostname,
        drained: drain,
        timeline: [...(current?.record.timeline ?? []), event].slice(-STATE_TIMELINE_MAX),
      };
      const revision = await saveAgentState(deps.store, record, current?.revision ?? 0);
      if (revision !== null) {
        deps.states.wroteState(hostname, record, revision);
        return {
          hostname,
          state: drain
            ? agent?.info.state === 'Cordoned' || (agent && !agent.ready)
              ? effectiveState({ state: 'Cordoned' }, record)
              : 'Draining'
            : 'Ready',
          message: event.message,
        };
      }
      // Another API server changed it meanwhile: read it again, a few times.
      if (attempt >= 3) {
        throw new ApiError(
          'agent_state_conflict',
          `${hostname} was changed by another request at the same time; try again`,
        );
      }
    }
  };

  for (const [path, drain, summary] of [
    ['drain', true, 'Drain an agent: it finishes what it runs and takes nothing new'],
    ['undrain', false, 'Undrain an agent: it takes jobs again'],
  ] as const) {
    app.post<{ Params: { hostname: string } }>(
      `/agent/:hostname/${path}`,
      {
        config: { permission: 'agent:write' },
        schema: { summary, params: AgentParams, response: { 200: AgentStateChangeSchema } },
      },
      async (req) => change(req.params.hostname, drain, req.user?.subject ?? 'unknown'),
    );
  }

  app.get(
    '/facts/keys',
    {
      config: { permission: 'agent:read' },
      schema: {
        summary: 'The fact keys `@fact.<key>` may name: built in, and in use by some agent',
        response: { 200: FactKeysResponse },
      },
    },
    async () => ({ keys: factKeys(deps.facts.allValues()) }),
  );
}

/** Operators' drain requests kept per agent. */
const STATE_TIMELINE_MAX = 50;

/**
 * The built-in keys (a family such as `interfaces.<name>.ipv4` as written),
 * then every key some agent has, sorted: a family's keys by their name,
 * custom ones as custom facts.
 */
export function factKeys(all: Array<Readonly<Record<string, string>>>): FactKeyEntry[] {
  const out = new Map<string, FactKeyEntry>();
  for (const [key, description] of BUILTIN_FACT_KEYS) {
    out.set(key, { key, description, builtin: true });
  }
  const family = new Map(
    BUILTIN_FACT_KEYS.filter(([k]) => k.includes('<name>')).map(([k, d]) => [
      k.replace('<name>', '*'),
      d,
    ]),
  );
  for (const values of all) {
    for (const key of Object.keys(values)) {
      if (out.has(key)) continue;
      if (key.startsWith('custom.')) {
        out.set(key, {
          key,
          description: 'A custom fact (agent.facts.custom or agent.facts.dir)',
          builtin: false,
        });
        continue;
      }
      const [, name = '', leaf = ''] = /^interfaces\.(.+)\.(ipv4|ipv6|mac)$/.exec(key) ?? [];
      const d = family.get(`interfaces.*.${leaf}`);
      if (d) out.set(key, { key, description: d.replace('<name>', name), builtin: true });
    }
  }
  return [...out.values()].sort((a, b) => a.key.localeCompare(b.key));
}
