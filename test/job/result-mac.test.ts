// Results authenticated by a key an agent shares with the API servers
// (src/job/result-mac.ts): each side derives it from its own Ed25519 key and
// the other's public key, no other agent can, and the API takes a matching
// MAC in place of the signature, and the signature when the MAC is wrong.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { apiResultTrust } from '../../src/api/result-trust.js';
import type { AgentStateView } from '../../src/job/agent-state-view.js';
import { resultMacKeys, x25519PrivateOf, x25519PublicOf } from '../../src/job/result-mac.js';
import { resultDistrust, signResult } from '../../src/job/result-signing.js';
import { newEd25519Key, rawPublicKey } from '../../src/job/signing.js';
import {
  RESULT_MAC_HEADER,
  RESULT_SIGNATURE_HEADER,
  RESULT_STATE_HEADER,
} from '../../src/names/names.js';
import { silentLogger } from '../support/nats.js';

const raw = (key: KeyObject) => rawPublicKey(createPublicKey(key));
const pub = (key: KeyObject) => createPublicKey(key);
const body = new TextEncoder().encode('{"ok":true}');

describe('the key an agent shares with the API servers', () => {
  it('is the same from either side, and another for another agent', () => {
    const api = newEd25519Key();
    const agent = newEd25519Key();
    const other = newEd25519Key();
    const agentSide = resultMacKeys(agent)(pub(api));
    const apiSide = resultMacKeys(api)(pub(agent));
    expect(agentSide).toHaveLength(32);
    expect(agentSide?.equals(apiSide ?? Buffer.alloc(0))).toBe(true);
    // Another agent, with the same API key, shares another key.
    expect(resultMacKeys(other)(pub(api))?.equals(apiSide ?? Buffer.alloc(0))).toBe(false);
  });

  it("is another for a key's negation, which maps to the same X25519 point", () => {
    const api = newEd25519Key();
    const agent = raw(newEd25519Key());
    // The same y with the sign of x flipped: -A, whose signatures are not A's.
    const negated = Buffer.from(agent);
    negated[31] = (negated[31] ?? 0) ^ 0x80;
    const asKey = (bytes: Buffer) =>
      createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') },
        format: 'jwk',
      });
    expect(x25519PublicOf(negated)?.export({ format: 'jwk' }).x).toBe(
      x25519PublicOf(agent)?.export({ format: 'jwk' }).x,
    );
    const forA = resultMacKeys(api)(asKey(agent));
    const forNegated = resultMacKeys(api)(asKey(negated));
    expect(forA).not.toBeNull();
    expect(forNegated).not.toBeNull();
    expect(forA?.equals(forNegated ?? Buffer.alloc(0))).toBe(false);
  });

  it('maps an Ed25519 public key to the X25519 key of the same scalar', () => {
    for (let i = 0; i < 20; i++) {
      const key = newEd25519Key();
      // Node computes this one on the X25519 curve itself, from the scalar.
      const fromScalar = createPublicKey(x25519PrivateOf(key)).export({ format: 'jwk' });
      const mapped = x25519PublicOf(raw(key))?.export({ format: 'jwk' });
      expect(mapped?.x).toBe(fromScalar.x);
    }
  });

  it('is none for a public key that is not a usable point', () => {
    expect(x25519PublicOf(new Uint8Array(31))).toBeNull();
    // y = 1: the neutral point, where the map divides by zero.
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(x25519PublicOf(one)).toBeNull();
    // y = 2^255 - 19 + 1, past the field.
    const past = Buffer.alloc(32, 0xff);
    past[0] = 0xee;
    past[31] = 0x7f;
    expect(x25519PublicOf(past)).toBeNull();
    // The point of order 2 (y = -1): u = 0, whose shared secret is all zeros.
    const minusOne = Buffer.alloc(32, 0xff);
    minusOne[0] = 0xec;
    minusOne[31] = 0x7f;
    const orderTwo = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: minusOne.toString('base64url') },
      format: 'jwk',
    });
    expect(resultMacKeys(newEd25519Key())(orderTwo)).toBeNull();
    // Keys of another kind: none either, rather than a failure.
    const x25519 = x25519PrivateOf(newEd25519Key());
    expect(resultMacKeys(newEd25519Key())(createPublicKey(x25519))).toBeNull();
    expect(resultMacKeys(x25519)(pub(newEd25519Key()))).toBeNull();
  });
});

describe('resultDistrust with a MAC', () => {
  const api = newEd25519Key();
  const agent = newEd25519Key();
  const stranger = newEd25519Key();
  const trust = apiResultTrust(api, silentLogger);
  trust.bind({
    decision: (hostname: string) =>
      hostname === 'web-01'
        ? { status: 'accepted', public_key: raw(agent).toString('base64') }
        : hostname === 'web-02'
          ? { status: 'accepted', public_key: raw(stranger).toString('base64') }
          : undefined,
  } as unknown as AgentStateView);

  function stored(host: string, key: KeyObject, macKey: Buffer | null): MsgHdrs {
    const h = headers();
    h.set(RESULT_STATE_HEADER, 'succeeded');
    signResult(h, 'job-1', host, body, { key, as: 'agent', macKey });
    return h;
  }

  it('believes a matching MAC without the signature, and nothing else it covers', () => {
    const h = stored('web-01', agent, resultMacKeys(agent)(pub(api)));
    expect(h.get(RESULT_MAC_HEADER)).not.toBe('');
    // The signature spoiled: the MAC alone proves it.
    h.set(RESULT_SIGNATURE_HEADER, Buffer.alloc(64).toString('base64'));
    expect(resultDistrust(trust, 'job-1', 'web-01', h, body)).toBeNull();
    // What the MAC covers, changed: it no longer matches, nor does the signature.
    expect(resultDistrust(trust, 'job-2', 'web-01', h, body)).toMatch(/signature/);
    h.set(RESULT_STATE_HEADER, 'failed');
    expect(resultDistrust(trust, 'job-1', 'web-01', h, body)).toMatch(/signature/);
    h.set(RESULT_STATE_HEADER, 'succeeded');
    expect(resultDistrust(trust, 'job-1', 'web-01', h, new TextEncoder().encode('{}'))).toMatch(
      /not the one that was signed/,
    );
  });

  it("refuses another agent's MAC for a host, and checks the signature when the MAC is wrong", () => {
    // web-02's agent, writing under web-01's name with its own shared key.
    const forged = stored('web-01', stranger, resultMacKeys(stranger)(pub(api)));
    expect(resultDistrust(trust, 'job-1', 'web-01', forged, body)).toMatch(/signature/);
    // An agent that knows another API key: its MAC is no use, its signature is.
    const otherApi = stored('web-01', agent, resultMacKeys(agent)(pub(newEd25519Key())));
    expect(resultDistrust(trust, 'job-1', 'web-01', otherApi, body)).toBeNull();
    // And without a MAC at all (an agent of an earlier version).
    expect(
      resultDistrust(trust, 'job-1', 'web-01', stored('web-01', agent, null), body),
    ).toBeNull();
  });
});
