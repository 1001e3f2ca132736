// GET /job/{id}/stream holds a connection for as long as the job runs: one
// token subject may hold api.server.limits.max_streams_per_user of them at
// once. One more is a 429 naming the limit; another subject still gets its
// own; a stream closed frees its place.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/index.js';
import { publishJob } from '../../src/job/store.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, waitFor } from './helpers.js';

const MAX = 2;

let sys: TestSystem;
let jobId: string;

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'api.server.limits.max_streams_per_user': MAX } });
  // A job for a host that never answers: it stays open, and so do its streams.
  const job = await publishJob(await storeFor(sys), {
    type: 'node.hostname.get',
    data: {},
    target: { kind: 'host', hostname: 'nobody-here' },
    createdBy: 'test',
    startWithinMs: 120_000,
  });
  jobId = job.id;
  const admin = await sys.token();
  await waitFor('the job in the view', async () => {
    return (await request(sys, 'GET', `/job/${jobId}`, undefined, admin)).status === 200;
  });
});
afterAll(async () => {
  await sys?.stop();
});

const tokenOf = (subject: string) =>
  signToken({ subject, roles: ['read'], signingKey: sys.signingKey });

interface OpenStream {
  status: number;
  body?: { reason?: string; error?: string; code?: number };
  close(): void;
}

/** Opens the job's stream and leaves it open (its body unread) until `close`. */
async function openStream(token: string): Promise<OpenStream> {
  const abort = new AbortController();
  const res = await fetch(`${sys.url}/job/${jobId}/stream`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status !== 200) {
    const body = (await res.json()) as OpenStream['body'];
    return { status: res.status, ...(body ? { body } : {}), close: () => abort.abort() };
  }
  return { status: 200, close: () => abort.abort() };
}

describe('streams per token subject', () => {
  it(`allows ${MAX} at once, refuses one more with 429, and another subject still gets one`, async () => {
    const alice = await tokenOf('alice@example.com');
    const held: OpenStream[] = [];
    try {
      for (let i = 0; i < MAX; i++) {
        const s = await openStream(alice);
        held.push(s);
        expect(s.status).toBe(200);
      }
      // Another token of the same subject (a console session, say) shares the count.
      const more = await openStream(await tokenOf('alice@example.com'));
      held.push(more);
      expect(more.status).toBe(429);
      expect(more.body).toMatchObject({ code: 429, reason: 'too_many_streams' });
      expect(more.body?.error).toMatch(/api\.server\.limits\.max_streams_per_user/);

      const bob = await openStream(await tokenOf('bob@example.com'));
      held.push(bob);
      expect(bob.status).toBe(200);

      // One of alice's closed: her next stream is let in once the server has seen it go.
      held[0]?.close();
      const again = await waitFor('a free place for alice', async () => {
        const s = await openStream(alice);
        held.push(s);
        return s.status === 200 ? s : false;
      });
      expect(again.status).toBe(200);
    } finally {
      for (const s of held) s.close();
    }
  });
});
