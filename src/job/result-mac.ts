// A key each agent shares with the API servers, to authenticate its results
// at a small part of the cost of their signature (result-signing.ts): an
// Ed25519 check costs the API about 140 µs on a small machine, an HMAC about
// 2 µs, and a broadcast brings one result from each of thousands of agents.
//
// The key needs no exchange. Each side already holds its own Ed25519 private
// key and the other's public key (the agent: the API's job-verify key; the
// API: the agent's accepted key). An Ed25519 key is a scalar on the Edwards
// form of Curve25519; the same scalar is an X25519 private key, and the
// Edwards public point maps to the X25519 one (u = (1 + y) / (1 - y)). So the
// agent and the API agree on one X25519 secret, which no other agent can
// compute: a result under a key derived from it came from that agent or an
// API server. (Unlike the signature, it does not tell which of the two: an
// API server, which records results in its own name anyway, could make one
// as the agent.)
import {
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';
import { privateKeyFromRaw, publicKeyFromRaw, rawPublicKey } from './signing.js';

/** 2^255 - 19, the field of Curve25519. */
const P = (1n << 255n) - 19n;

/** 1 / a mod P (a not 0 mod P), by the extended Euclidean algorithm. */
function inverse(a: bigint): bigint {
  let [r0, r1] = [P, a % P];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return ((t0 % P) + P) % P;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

function toLittleEndian(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The X25519 private key of the scalar an Ed25519 private key signs with. */
export function x25519PrivateOf(ed25519: KeyObject): KeyObject {
  const { d } = ed25519.export({ format: 'jwk' }) as { d?: string };
  if (!d) throw new TypeError('not an Ed25519 private key');
  // Ed25519's secret scalar is the first half of SHA-512(seed); X25519
  // clamps it the same way Ed25519 does.
  const scalar = createHash('sha512').update(Buffer.from(d, 'base64url')).digest().subarray(0, 32);
  return privateKeyFromRaw('X25519', scalar);
}

/** The X25519 public key of an Ed25519 public key (its raw 32 bytes); null when it is no point. */
export function x25519PublicOf(ed25519Raw: Uint8Array): KeyObject | null {
  if (ed25519Raw.length !== 32) return null;
  const bytes = Uint8Array.from(ed25519Raw);
  // The top bit is the sign of x, which u does not depend on.
  bytes[31] = (bytes[31] ?? 0) & 0x7f;
  const y = littleEndian(bytes);
  if (y >= P || y === 1n) return null;
  const u = ((1n + y) * inverse(P + 1n - y)) % P;
  try {
    return publicKeyFromRaw('X25519', toLittleEndian(u));
  } catch {
    return null;
  }
}

/**
 * The keys one side shares with each other (an agent with the API servers,
 * the API with each agent), from its own Ed25519 private key and the other's
 * Ed25519 public key; null when either is not a usable Ed25519 key (the
 * signature alone is then checked).
 */
export function resultMacKeys(ownEd25519: KeyObject): (otherEd25519: KeyObject) => Buffer | null {
  let own: { x25519: KeyObject; raw: Buffer } | undefined;
  return (otherKey) => {
    if (ownEd25519.asymmetricKeyType !== 'ed25519' || otherKey.asymmetricKeyType !== 'ed25519') {
      return null;
    }
    try {
      own ??= {
        x25519: x25519PrivateOf(ownEd25519),
        raw: rawPublicKey(createPublicKey(ownEd25519)),
      };
      const otherRaw = rawPublicKey(otherKey);
      const other = x25519PublicOf(otherRaw);
      if (!other) return null;
      const shared = diffieHellman({ privateKey: own.x25519, publicKey: other });
      // Both Ed25519 keys, as encoded, in the derivation (in one order on
      // both sides): the X25519 secret alone is the same for a key and its
      // negation (the sign bit u drops), whose signatures differ.
      const [first, second] =
        Buffer.compare(own.raw, otherRaw) <= 0 ? [own.raw, otherRaw] : [otherRaw, own.raw];
      const info = Buffer.concat([Buffer.from('osapi result mac v1\n'), first, second]);
      return Buffer.from(hkdfSync('sha256', shared, 'osapi-result-mac', info, 32));
    } catch {
      // A key of another kind, or a point of small order (an all-zero secret).
      return null;
    }
  };
}

function macOf(key: Buffer, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest();
}

/** The MAC of a result's signed bytes, base64. */
export function resultMac(key: Buffer, signed: Uint8Array): string {
  return macOf(key, signed).toString('base64');
}

/** Whether `mac` (base64) is the MAC of `signed` under `key`, compared in constant time. */
export function resultMacMatches(key: Buffer, signed: Uint8Array, mac: string): boolean {
  const want = macOf(key, signed);
  const got = Buffer.from(mac, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}
