// Secrets never reach a log line: a whole run at debug level, with good and
// bad tokens, is captured and searched for the signing key and every token.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

const lines: string[] = [];
const capture = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});

let sys: TestSystem;

beforeAll(async () => {
  sys = await startTestSystem({ logger: createLogger({ debug: true, destination: capture }) });
  await sys.startAgent('sec-01');
  await sys.waitForAgents(['sec-01']);
});
afterAll(async () => {
  await sys?.stop();
});

describe('secrets in logs', () => {
  it('no log line of a debug run holds the signing keys or a token', async () => {
    const admin = await sys.token();
    const read = await sys.token(['read']);
    const forged = `${admin.slice(0, -4)}AAAA`;
    await request(
      sys,
      'POST',
      '/node/sec-01/command/exec',
      { command: 'echo', args: ['hi'] },
      admin,
    );
    await request(sys, 'POST', '/node/sec-01/command/exec', { command: 'id' }, read);
    await request(sys, 'POST', '/node/sec-01/command/exec', { command: 'id' }, forged);
    await request(sys, 'GET', '/job', undefined, admin);
    await request(sys, 'GET', '/nope', undefined, forged);
    await sys.api.audit.flush();

    const log = lines.join('');
    // The run was logged, at debug level, requests included.
    expect(log).toMatch(/"level":20/);
    expect(log).toMatch(/command\/exec/);
    const jobKey = readFileSync(join(sys.config.state_dir, 'job-signing.key'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    for (const [name, secret] of [
      ['signing key', sys.signingKey],
      ['admin token', admin],
      ['read token', read],
      ['forged token', forged],
      ['job-signing private key', jobKey],
    ] as const) {
      expect(secret.length, name).toBeGreaterThan(10);
      expect(log.includes(secret), `${name} found in the logs`).toBe(false);
      // A token's signature part alone is as good as the token.
      const last = secret.split('.').at(-1) ?? '';
      if (last.length > 20)
        expect(log.includes(last), `${name} signature found in the logs`).toBe(false);
    }
  });
});
