// X-Forwarded-For is believed only from a configured reverse proxy: from one,
// the audit records (and the per-source limits count) the address it names;
// from anyone else the header changes nothing, so a client cannot pick the
// address its requests are counted under.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

const FORWARDED = '203.0.113.7';

async function sourceOf(sys: TestSystem, marker: string): Promise<string> {
  // Unauthenticated, so the entry's source address is all there is to count it by.
  const r = await fetch(`${sys.url}/job/${marker}`, { headers: { 'x-forwarded-for': FORWARDED } });
  expect(r.status).toBe(401);
  const token = await sys.token();
  const entry = await waitFor('the audit entry', async () => {
    const list = await request(sys, 'GET', '/audit?limit=50', undefined, token);
    return (list.body.items as Array<{ path: string; source_ip: string }>).find((e) =>
      e.path.includes(marker),
    );
  });
  return entry.source_ip;
}

describe('api.server.security.trusted_proxies', () => {
  let behindProxy: TestSystem;
  let direct: TestSystem;
  beforeAll(async () => {
    behindProxy = await startTestSystem({
      overrides: { 'api.server.security.trusted_proxies': ['127.0.0.1', '::1'] },
    });
    direct = await startTestSystem({
      overrides: { 'api.server.security.trusted_proxies': ['192.0.2.0/24'] },
    });
  });
  afterAll(async () => {
    await behindProxy?.stop();
    await direct?.stop();
  });

  it('from a trusted proxy, the forwarded address is the source', async () => {
    expect(await sourceOf(behindProxy, crypto.randomUUID())).toBe(FORWARDED);
  });

  it('from anyone else, the header is ignored', async () => {
    expect(await sourceOf(direct, crypto.randomUUID())).toMatch(
      /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/,
    );
  });

  it('an entry that is not an address or a range is a config error naming the key', () => {
    for (const bad of ['proxy.example.com', '10.0.0.0/33', '10.0.0.1/8/1', '::1/129']) {
      expect(() =>
        loadConfig({
          env: {},
          defaultFile: null,
          overrides: { 'api.server.security.trusted_proxies': [bad] },
        }),
      ).toThrow(ConfigError);
    }
    expect(() =>
      loadConfig({
        env: {},
        defaultFile: null,
        overrides: { 'api.server.security.trusted_proxies': ['proxy.example.com'] },
      }),
    ).toThrow(/api\.server\.security\.trusted_proxies.*expected an IP address or a CIDR range/);
  });
});
