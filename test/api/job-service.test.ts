// The job service's decisions that need no NATS: target parsing, permission
// and command policy, and the one rule for an Idempotency-Key whose request
// failed (released before a job exists, kept once it does). The store is an
// in-memory stand-in; the round trips through NATS are in the other tests.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AuthUser } from '../../src/api/auth.js';
import type { DispatchDeps } from '../../src/api/dispatch.js';
import { ApiError } from '../../src/api/errors.js';
import {
  checkJob,
  type Operation,
  storedOperation,
  submitJob,
  targetOf,
  timeoutMsOf,
} from '../../src/api/job-service.js';
import type { JobRecord } from '../../src/job/records.js';

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

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

interface Entry {
  key: string;
  value: Uint8Array;
  revision: number;
  operation: 'PUT';
  string(): string;
}

/** A KV bucket in memory, with the calls idempotency and publishJob make. */
function memoryKv() {
  const entries = new Map<string, Entry>();
  let rev = 0;
  const put = (key: string, v: string): number => {
    rev++;
    const value = new TextEncoder().encode(v);
    entries.set(key, { key, value, revision: rev, operation: 'PUT', string: () => v });
    return rev;
  };
  const kv = {
    entries,
    creates: [] as string[],
    async create(key: string, v: string) {
      kv.creates.push(key);
      if (entries.has(key)) throw Object.assign(new Error('wrong last sequence'), { code: 10071 });
      return put(key, v);
    },
    async put(key: string, v: string) {
      return put(key, v);
    },
    async update(key: string, v: string) {
      return put(key, v);
    },
    async get(key: string) {
      return entries.get(key) ?? null;
    },
    async purge(key: string) {
      entries.delete(key);
    },
  };
  return kv;
}

function depsWith(hosts: string[]) {
  const jobs = memoryKv();
  const clock = { now: () => new Date('2026-01-01T00:00:00Z'), nanos: () => 1n };
  const failing = async () => {
    throw new Error('NATS went away');
  };
  const store = {
    jobs,
    clock,
    names: {},
    js: { publish: failing },
    nc: { publish: failing, request: failing },
  };
  const agents = hosts.map((h) => ({ ready: true, info: { hostname: h, labels: {} } }));
  const deps = {
    store,
    clock,
    marginMs: 10,
    startWithinMs: 60_000,
    registry: { matching: () => agents, agents: () => agents },
    responses: { register: () => () => {} },
    rollouts: { start: async () => {} },
    jobs: { get: () => undefined },
  } as unknown as DispatchDeps;
  return { deps, kv: jobs };
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
    const err = await refusal(() => targetOf('bad host!', 'target_hostname'));
    expect(err.reason).toBe('invalid_target');
    expect(err.message).toMatch(/^target_hostname: invalid target "bad host!"/);
    expect((await refusal(() => targetOf('_nope'))).message).toMatch(/^invalid target/);
  });

  it('refuses a bad target before reserving any key', async () => {
    const { deps, kv } = depsWith(['web-01']);
    const err = await refusal(
      submitJob(deps, {
        operation: echo,
        target: 'a b',
        user: user(),
        mode: 'wait',
        idempotencyFrom: requestWithKey('k1'),
      }),
    );
    expect(err.reason).toBe('invalid_target');
    expect(kv.creates).toEqual([]);
  });

  it("checks the operation's permission and the command policy", async () => {
    const noExec = user({ permissions: ['node:read'] });
    const err = await refusal(() => checkJob(noExec, echo));
    expect(err.status).toBe(403);
    expect(err.facts).toMatchObject({ missing_permission: 'command:execute' });
    expect(() => checkJob(noExec, { type: 'node.hostname.get', data: {} })).not.toThrow();

    const limited = user({ commandPolicy: { exec: ['systemctl status *'], shell: [] } });
    const policed = await refusal(() => checkJob(limited, echo));
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
    const err = await refusal(() => storedOperation(record('command.exec.execute', { nope: 1 })));
    expect(err.reason).toBe('invalid_request');
  });

  it('releases the key when the request is refused before a job exists (404 no agent)', async () => {
    const { deps, kv } = depsWith([]);
    const err = await refusal(
      submitJob(deps, {
        operation: echo,
        target: 'web-01',
        user: user(),
        mode: 'wait',
        idempotencyFrom: requestWithKey('k2'),
      }),
    );
    expect(err.reason).toBe('no_matching_agent');
    expect(kv.creates).toHaveLength(1); // reserved...
    expect(kv.entries.size).toBe(0); // ...and released
  });

  it('keeps the key once the job exists, even when publishing it then failed', async () => {
    // POST /job records a job no agent matches; the notification fails after the definition is stored.
    const { deps, kv } = depsWith([]);
    await expect(
      submitJob(deps, {
        operation: echo,
        target: 'web-01',
        user: user(),
        mode: 'record',
        idempotencyFrom: requestWithKey('k3'),
      }),
    ).rejects.toThrow();
    const keys = [...kv.entries.keys()];
    expect(keys.some((k) => k.startsWith('jobs.'))).toBe(true);
    expect(keys).toHaveLength(2); // the job's definition and the reserved key
  });
});
