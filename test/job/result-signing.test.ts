// Result signatures: a result is believed only as signed by the key trusted
// for its host, over its headers and body; a signature checked once is
// remembered with what it signed, never lent to another result.
import { generateKeyPairSync } from 'node:crypto';
import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { apiResultTrust } from '../../src/api/result-trust.js';
import { resultDistrust, signResult } from '../../src/job/result-signing.js';
import { RESULT_SIGNATURE_HEADER, RESULT_STATE_HEADER } from '../../src/names/names.js';
import { silentLogger } from '../support/nats.js';

const body = new TextEncoder().encode('{"ok":true}');

function signed(
  jobId: string,
  host: string,
  key: ReturnType<typeof generateKeyPairSync>['privateKey'],
) {
  const h = headers();
  h.set(RESULT_STATE_HEADER, 'succeeded');
  signResult(h, jobId, host, body, { key, as: 'api' });
  return h;
}

describe('resultDistrust', () => {
  it('believes a result as signed, remembers the check, and lends the signature to no other', () => {
    const api = generateKeyPairSync('ed25519').privateKey;
    const trust = apiResultTrust(api, silentLogger);
    const h = signed('job-1', 'web-01', api);
    expect(resultDistrust(trust, 'job-1', 'web-01', h, body)).toBeNull();
    // Again, from the cache.
    expect(resultDistrust(trust, 'job-1', 'web-01', h, body)).toBeNull();
    // The same signature on another job, another host, another state: refused.
    expect(resultDistrust(trust, 'job-2', 'web-01', h, body)).toMatch(/signature/);
    expect(resultDistrust(trust, 'job-1', 'web-02', h, body)).toMatch(/signature/);
    const other = signed('job-1', 'web-01', api);
    other.set(RESULT_STATE_HEADER, 'failed');
    other.set(RESULT_SIGNATURE_HEADER, h.get(RESULT_SIGNATURE_HEADER));
    expect(resultDistrust(trust, 'job-1', 'web-01', other, body)).toMatch(/signature/);
    // Another body than the signed one; another key; none at all.
    expect(resultDistrust(trust, 'job-1', 'web-01', h, new TextEncoder().encode('{}'))).toMatch(
      /not the one that was signed/,
    );
    const stranger = signed('job-1', 'web-01', generateKeyPairSync('ed25519').privateKey);
    expect(resultDistrust(trust, 'job-1', 'web-01', stranger, body)).toMatch(/signature/);
    expect(resultDistrust(trust, 'job-1', 'web-01', headers(), body)).toMatch(/not signed/);
  });
});
