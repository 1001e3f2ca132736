// Property tests over every route's body, path and query: whatever arrives,
// the answer is a JSON error or success, never a 500, a stack trace or a hang.
// CI runs a fixed seed and a bounded count; FC_RUNS and FC_SEED run more:
//   FC_RUNS=2000 npx vitest run test/api/hostile-input.test.ts
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/system.js';

// No agent at all: a well-formed command can never run anything here.
let sys: TestSystem;
let token: string;

const RUNS = Number(process.env.FC_RUNS ?? 60);
const SEED = Number(process.env.FC_SEED ?? 20261125);
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true };

beforeAll(async () => {
  sys = await startTestSystem({
    // Hundreds of requests with one token: above the audit log's rate per
    // token subject, most would be a 429 before their body was ever read.
    overrides: {
      'api.server.security.audit.user_rate': 1_000_000,
      'api.server.security.audit.user_burst': 1_000_000,
    },
  });
  token = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

async function send(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${sys.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
}

function wellBehaved(r: { status: number; text: string; type: string }, what: string) {
  expect(r.status, `${what} → ${r.status} ${r.text.slice(0, 300)}`).toBeLessThan(500);
  expect(r.text).not.toMatch(/\n\s+at /);
  if (r.status >= 400) {
    expect(r.type).toMatch(/application\/json/);
    const body = JSON.parse(r.text);
    expect(body.code).toBe(r.status);
    expect(typeof body.error).toBe('string');
  }
}

const segment = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('_any', '_all', 'web-01', 'group:web', '..', '%00', '%2F', 'a'.repeat(300)),
);
const jsonish = fc.oneof(
  fc.json({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc
    .record(
      {
        command: fc.oneof(fc.string({ unit: 'binary' }), fc.integer(), fc.constant(null)),
        args: fc.oneof(fc.array(fc.string({ unit: 'binary' })), fc.anything()),
        cwd: fc.oneof(fc.string({ unit: 'binary' }), fc.double()),
        timeout: fc.oneof(fc.integer(), fc.double(), fc.constant(1e308), fc.string()),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);

describe('hostile input never gets a 500', () => {
  it('command routes: any target segment, any body', async () => {
    await fc.assert(
      fc.asyncProperty(
        segment,
        fc.constantFrom('exec', 'shell'),
        jsonish,
        async (target, kind, body) => {
          const path = `/node/${encodeURIComponent(target)}/command/${kind}`;
          wellBehaved(await send('POST', path, body), `POST ${path} ${body.slice(0, 80)}`);
        },
      ),
      params,
    );
  });

  it('job routes: any id, any body, any query', async () => {
    await fc.assert(
      fc.asyncProperty(
        segment,
        jsonish,
        fc.string({ unit: 'binary', maxLength: 40 }),
        async (id, body, q) => {
          const enc = encodeURIComponent(id);
          wellBehaved(await send('POST', '/job', body), 'POST /job');
          wellBehaved(await send('GET', `/job/${enc}`), `GET /job/${enc}`);
          wellBehaved(await send('DELETE', `/job/${enc}`), `DELETE /job/${enc}`);
          wellBehaved(await send('POST', `/job/${enc}/retry`, body), `POST /job/${enc}/retry`);
          wellBehaved(await send('GET', `/job?${q}`), `GET /job?${q}`);
          wellBehaved(
            await send(
              'GET',
              `/job?status=${encodeURIComponent(q)}&limit=${encodeURIComponent(q)}`,
            ),
            'GET /job?status&limit',
          );
        },
      ),
      params,
    );
  });

  it('agent and audit routes: any name, id and query', async () => {
    await fc.assert(
      fc.asyncProperty(segment, fc.string({ unit: 'binary', maxLength: 40 }), async (name, q) => {
        const enc = encodeURIComponent(name);
        wellBehaved(await send('GET', `/agent/${enc}`), `GET /agent/${enc}`);
        wellBehaved(await send('GET', `/agent?target=${enc}`), `GET /agent?target=${enc}`);
        wellBehaved(await send('GET', `/audit/${enc}`), `GET /audit/${enc}`);
        wellBehaved(await send('GET', `/audit?${q}`), `GET /audit?${q}`);
        wellBehaved(await send('GET', `/audit?limit=${encodeURIComponent(q)}`), 'GET /audit?limit');
      }),
      params,
    );
  });

  it('headers: any Authorization value and content type', async () => {
    const ascii = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 200,
    });
    await fc.assert(
      fc.asyncProperty(ascii, ascii, async (auth, type) => {
        const r = await send('POST', '/node/_any/command/exec', '{"command":"true"}', {
          authorization: auth,
          'content-type': type || 'x/y',
        });
        wellBehaved(r, `Authorization: ${auth} / Content-Type: ${type}`);
        expect([401, 400, 404, 415]).toContain(r.status);
      }),
      params,
    );
  });

  it('huge numbers, deep nesting and long strings', async () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    for (const body of [
      '{"command":"true","timeout":1e999}',
      '{"command":"true","timeout":123456789012345678901234567890}',
      deep,
      JSON.stringify({ command: 'x', args: Array.from({ length: 5000 }, () => 'a') }),
      JSON.stringify({ command: 'x'.repeat(70_000) }),
    ]) {
      wellBehaved(await send('POST', '/node/_any/command/exec', body), body.slice(0, 60));
    }
  });
});
