// The job service's decisions that need no NATS: target parsing, permission
// and command policy, and the one rule for an Idempotency-Key whose request
// failed (released before a job exists, kept once it does). The store is a
// real one on a test nats-server; agents and views are stand-ins.

import { jetstreamManager } from '@nats-io/jetstream';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AuthUser } from '../../src/api/auth.js';
import type { DispatchDeps } from '../../src/api/dispatch.js';
import {
  checkJob,
  type Operation,
  storedOperation,
  submitJob,
  targetOf,
  timeoutMsOf,
} from '../../src/api/job-service.js';
import type { JobRecord } from '../../src/job/records.js';
import { openJobStore } from '../../src/job/store.js';
import { infraNames } from '../../src/names/names.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { apiRefusal } from '../support/api-error.js';
import { bucketsOf } from '../support/buckets.js';
import { useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const user = (over: Partial<AuthUser> = {}): AuthUser => ({
  subject: 'alice',
  roles: ['admin'],
  permissions: ['command:execute', 'node:read', 'job:write'],
  commandPolicy: null,
  expiresAt: 0,
  ...over,
});

const echo: Operation = {
  type: 'command.exec.execute',
  data: { command: 'echo', args: ['hi'], timeout: 7 },
};

const t = useTestNats();
let layouts = 0;

/**
 * The job service's dependencies around a real store (a layout of its own on
 * the test's nats-server); the agents and views are stand-ins. Without the
 * jobs stream, a job's definition is stored and its notification then fails.
 */
async function depsWith(hosts: string[], opts: { withoutJobsStream?: boolean } = {}) {
  const names = infraNames(testLayout(`svc${layouts++}`));
  await ensureLayout(t.nc, testLayout(names.namespace));
  if (opts.withoutJobsStream) await (await jetstreamManager(t.nc)).streams.delete(names.stream);
  const clock = { now: () => new Date('2026-01-01T00:00:00Z'), nanos: () => 1n };
  const store = await openJobStore(t.nc, names, clock);
  const agents = hosts.map((h) => ({ ready: true, info: { hostname: h, labels: {} } }));
  const deps = {
    store,
    clock,
    marginMs: 10,
    startWithinMs: 60_000,
    registry: { matching: () => agents, agents: () => agents },
    responses: { register: () => () => {} },
    rollouts: { start: async () => {}, prepare: async () => 1 },
    // A jobs view that never catches up: what the store holds is the truth.
    jobs: { get: () => undefined, onChange: () => () => {} },
    states: { drained: () => false, enrollment: () => 'accepted' },
    facts: { get: () => undefined },
  } as unknown as DispatchDeps;
  const { jobs } = await bucketsOf(store);
  /** Every key of the jobs bucket, released ones too, with its last operation. */
  const history = async () => {
    const seen = new Map<string, string>();
    for await (const e of await jobs.history({ key: '>' })) seen.set(e.key, e.operation);
    return seen;
  };
  return { deps, history };
}

const requestWithKey = (key: string) =>
  ({
    headers: { 'idempotency-key': key },
    method: 'POST',
    routeOptions: { url: '/node/:hostname/command/exec' },
    url: '/node/web-01/command/exec',
    params: { hostname: 'web-01' },
    query: {},
    body: { command: 'echo' },
  }) as unknown as FastifyRequest;

describe('the job service', () => {
  it('parses the target once, naming the field in its 400', async () => {
    expect(targetOf('_any')).toEqual({ kind: 'any' });
    expect(targetOf('group:web.dev')).toEqual({ kind: 'label', key: 'group', value: 'web.dev' });
    const err = await apiRefusal(() => targetOf('bad host!', 'target_hostname'));
    expect(err.reason).toBe('invalid_target');
    expect(err.message).toMatch(/^target_hostname: invalid target "bad host!"/);
    expect((await apiRefusal(() => targetOf('_nope'))).message).toMatch(/^invalid target/);
  });

  it('refuses a bad target before reserving any key', async () => {
    const { deps, history } = await depsWith(['web-01']);
    const err = await apiRefusal(
      submitJob(deps, {
        operation: echo,
        target: 'a b',
        user: user(),
        mode: 'wait',
        idempotencyFrom: requestWithKey('k1'),
      }),
    );
    expect(err.reason).toBe('invalid_target');
    expect(await history()).toEqual(new Map());
  });

  it("checks the operation's permission and the command policy", async () => {
    const noExec = user({ permissions: ['node:read'] });
    const err = await apiRefusal(() => checkJob(noExec, echo));
    expect(err.status).toBe(403);
    expect(err.facts).toMatchObject({ missing_permission: 'command:execute' });
    expect(() => checkJob(noExec, { type: 'node.hostname.get', data: {} })).not.toThrow();

    const limited = user({ commandPolicy: { exec: ['systemctl status *'], shell: [] } });
    const policed = await apiRefusal(() => checkJob(limited, echo));
    expect(policed.status).toBe(403);
    expect(policed.facts).toHaveProperty('command_policy');
    expect(() =>
      checkJob(limited, {
        type: 'command.exec.execute',
        data: { command: 'systemctl', args: ['status', 'nginx'], timeout: 5 },
      }),
    ).not.toThrow();
  });

  it("times a command by its own timeout and a node operation by the API's", () => {
    expect(timeoutMsOf(echo)).toBe(7000);
    expect(timeoutMsOf({ type: 'node.uptime.get', data: {} })).toBe(10_000);
  });

  it("types a stored job's operation again, refusing command data that is not a command", async () => {
    const record = (type: string, data: unknown) =>
      ({ id: 'j1', operation: { type, data } }) as unknown as JobRecord;
    expect(
      storedOperation(record('command.shell.execute', { command: 'ls', args: [], timeout: 30 })),
    ).toEqual({ type: 'command.shell.execute', data: { command: 'ls', args: [], timeout: 30 } });
    expect(storedOperation(record('node.os.get', {}))).toEqual({ type: 'node.os.get', data: {} });
    const err = await apiRefusal(() =>
      storedOperation(record('command.exec.execute', { nope: 1 })),
    );
    expect(err.reason).toBe('invalid_request');
  });

  it('releases the key when the request is refused before a job exists (404 no agent)', async () => {
    const { deps, history } = await depsWith([]);
    const err = await apiRefusal(
      submitJob(deps, {
        operation: echo,
        target: 'web-01',
        user: user(),
        mode: 'wait',
        idempotencyFrom: requestWithKey('k2'),
      }),
    );
    expect(err.reason).toBe('no_matching_agent');
    // Reserved, then released: the key's last word is its purge.
    const keys = await history();
    expect([...keys.keys()]).toEqual([expect.stringMatching(/^idempotency\./)]);
    expect([...keys.values()]).toEqual(['PURGE']);
  });

  it('keeps the key once the job exists, even when publishing it then failed', async () => {
    // POST /job records a job no agent matches; the notification fails after the definition is stored.
    const { deps, history } = await depsWith([], { withoutJobsStream: true });
    await expect(
      submitJob(deps, {
        operation: echo,
        target: 'web-01',
        user: user(),
        mode: 'record',
        idempotencyFrom: requestWithKey('k3'),
      }),
    ).rejects.toThrow();
    const keys = await history();
    // The job's definition and the reserved key, both kept.
    const kept = [...keys].filter(([, op]) => op === 'PUT').map(([k]) => k.split('.')[0]);
    expect(kept.sort()).toEqual(['idempotency', 'jobs']);
  });

  it("replays a key's job from the store when the jobs view has not shown it yet", async () => {
    const { deps } = await depsWith(['web-01', 'web-02']);
    const submit = () =>
      submitJob(deps, {
        operation: echo,
        target: '_all',
        user: user(),
        mode: 'async',
        idempotencyFrom: requestWithKey('k4'),
      });
    const first = await submit();
    if (first.kind !== 'submitted') throw new Error(`first request: ${first.kind}`);
    const again = await submit();
    if (again.kind !== 'replayed') throw new Error(`second request: ${again.kind}`);
    expect(again.record.id).toBe(first.job.jobId);
    expect(again.record.expected_hosts).toEqual(['web-01', 'web-02']);
    expect(again.result).toMatchObject({ jobId: first.job.jobId, responses: [] });
    expect(again.result.missing).toEqual(['web-01', 'web-02']);
  });
});
