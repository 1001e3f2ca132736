// Signed jobs: the API signs every job definition with an Ed25519 key, and an
// agent runs only what verifies against the API's public key. Write access to
// NATS alone is then not enough to make the fleet run anything.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { JobRecord } from './records.js';

export class JobKeyError extends Error {
  override name = 'JobKeyError';
}

/** JSON with object keys sorted at every depth: the bytes both sides sign and check. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The digest a broadcast's signed definition holds of its expected hosts:
 * SHA-256 of their canonical JSON, sorted, so that the order they were
 * gathered in does not matter.
 */
export function expectedDigest(hosts: readonly string[]): string {
  // One list heard by many agents of one process is hashed once.
  const known = digests.get(hosts);
  if (known !== undefined) return known;
  const digest = createHash('sha256')
    .update(canonicalJson([...hosts].sort()))
    .digest('hex');
  if (Object.isFrozen(hosts)) digests.set(hosts, digest);
  return digest;
}

/** Digests of frozen lists (store.ts carriedExpectedHosts), which cannot change once hashed. */
const digests = new WeakMap<readonly string[], string>();

/** The raw 32 bytes of an Ed25519 public key (TypeError for a key of another kind). */
export function rawPublicKey(key: KeyObject): Buffer {
  const { x } = key.export({ format: 'jwk' }) as { x?: string };
  if (!x) throw new TypeError('not an Ed25519 public key');
  return Buffer.from(x, 'base64url');
}

/** A short name for a public key, so a refusal can say which key was expected. */
export function keyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

function unsignedBytes(record: JobRecord): Buffer {
  const { signature: _s, ...rest } = record;
  return Buffer.from(canonicalJson(rest));
}

export interface JobSigner {
  keyId: string;
  sign(record: Omit<JobRecord, 'signature' | 'key_id'>): JobRecord;
  /**
   * The API's word that one host may start a rate-controlled broadcast now
   * (the notification's GO_HEADER): without it, a copy of the job sent to a
   * host before its turn would run there early.
   */
  signGo(jobId: string, hostname: string): string;
  /**
   * A 32-byte secret for `purpose`, derived from the private key (HKDF-SHA-256):
   * the same on every start with this key, and unknown to whoever has only
   * the public key (an agent).
   */
  derivedSecret(purpose: string): Buffer;
}

function goBytes(jobId: string, hostname: string): Buffer {
  return Buffer.from(`osapi-go\n${jobId}\n${hostname}`);
}

export function jobSigner(privateKey: KeyObject): JobSigner {
  const id = keyId(createPublicKey(privateKey));
  const derived = new Map<string, Buffer>();
  return {
    keyId: id,
    sign(record) {
      const withKey = { ...record, key_id: id } as JobRecord;
      return {
        ...withKey,
        signature: sign(null, unsignedBytes(withKey), privateKey).toString('base64'),
      };
    },
    signGo(jobId, hostname) {
      return sign(null, goBytes(jobId, hostname), privateKey).toString('base64');
    },
    derivedSecret(purpose) {
      // Asked on every request that carries an Idempotency-Key: derived once per purpose.
      let secret = derived.get(purpose);
      if (!secret) {
        const der = privateKey.export({ type: 'pkcs8', format: 'der' });
        secret = Buffer.from(hkdfSync('sha256', der, 'osapi-job-signing-key', purpose, 32));
        derived.set(purpose, secret);
      }
      return secret;
    },
  };
}

export type JobCheck = { ok: true } | { ok: false; reason: string };

export interface JobVerifier {
  keyId: string;
  /** The API's public key it checks with. */
  publicKey: KeyObject;
  check(record: JobRecord): JobCheck;
  /** Whether `go` is the API's signed word that this host may start the job now (JobSigner.signGo). */
  checkGo(jobId: string, hostname: string, go: string): boolean;
}

/**
 * Signatures already found good, by key, signature and signed bytes. A host
 * runs one agent and checks each job once; agents sharing one process (the
 * scale bench hosts hundreds to a process) would otherwise check the same
 * job hundreds of times over, which real hosts do in parallel on their own
 * CPUs. Only the exact bytes that verified are remembered, so a changed job
 * is checked again.
 */
const verified = new Set<string>();
const VERIFIED_KEEP = 512;

function verifiedBefore(key: string): boolean {
  return verified.has(key);
}

function rememberVerified(key: string): void {
  verified.add(key);
  if (verified.size > VERIFIED_KEEP) {
    // Sets iterate in insertion order: drop the oldest.
    const oldest = verified.values().next().value;
    if (oldest !== undefined) verified.delete(oldest);
  }
}

export function jobVerifier(publicKey: KeyObject): JobVerifier {
  const id = keyId(publicKey);
  return {
    keyId: id,
    publicKey,
    check(record) {
      if (!record.signature) return { ok: false, reason: 'the job is not signed' };
      // The same JSON is the same record, hence the same signed bytes; and
      // JSON.stringify costs far less than the canonical form.
      const memo = `${id}\n${JSON.stringify(record)}`;
      let good = verifiedBefore(memo);
      if (!good) {
        try {
          const bytes = unsignedBytes(record);
          good = verify(null, bytes, publicKey, Buffer.from(record.signature, 'base64'));
        } catch {
          good = false;
        }
        if (good) rememberVerified(memo);
      }
      if (!good) {
        return {
          ok: false,
          reason: `the job's signature does not verify against this agent's key ${id}${record.key_id && record.key_id !== id ? ` (signed by key ${record.key_id})` : ''}`,
        };
      }
      // Expiry is the deadline inside the signed record, checked by the agent
      // where it records a late job as not run.
      return { ok: true };
    },
    checkGo(jobId, hostname, go) {
      if (!go) return false;
      try {
        return verify(null, goBytes(jobId, hostname), publicKey, Buffer.from(go, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

/** Reads the private key, or makes a new pair (private 0600, public beside it). */
export function loadOrCreateSigningKeys(privatePath: string, what = 'job-signing key'): KeyObject {
  try {
    // Whoever reads it can sign jobs every agent runs: only the API's user may.
    const mode = statSync(privatePath).mode;
    if ((mode & 0o077) !== 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      throw new JobKeyError(
        `${privatePath} is accessible by group or others (mode ${octal}); run: chmod 600 ${privatePath}`,
      );
    }
    return importPrivateKey(readFileSync(privatePath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof JobKeyError) throw err;
      throw new JobKeyError(`cannot read the ${what} ${privatePath}: ${(err as Error).message}`);
    }
  }
  const privateKey = newEd25519Key();
  const publicKey = createPublicKey(privateKey);
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  // Written whole under another name, then linked into place, which fails if
  // the key appeared meanwhile: processes starting together on one state dir
  // (agents, `osapi start`) never read a half-written key, and all use one.
  const tmp = `${privatePath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
    flag: 'wx',
  });
  try {
    linkSync(tmp, privatePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return importPrivateKey(readFileSync(privatePath));
  } finally {
    rmSync(tmp, { force: true });
  }
  writeFileSync(publicPathFor(privatePath), publicKey.export({ type: 'spki', format: 'pem' }), {
    mode: 0o644,
  });
  return privateKey;
}

/** PKCS#8 DER of an Ed25519 private key, before its 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** SPKI DER of an Ed25519 public key, before its 32 bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The PKCS#8 DER before a raw 32-byte private key of each curve (RFC 8410). */
const PKCS8_PREFIX = {
  Ed25519: ED25519_PKCS8_PREFIX,
  X25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
} as const;

/**
 * A raw 32-byte private key of `crv` (an Ed25519 seed, an X25519 scalar) as
 * a key object, imported as a JWK: OpenSSL's DER and PEM decoders take about
 * 450 µs a key on a small machine, this about 35 µs, and every agent reads
 * two keys and derives a third at start (a whole fleet at once after a NATS
 * outage). Node makes the public half from `d`; `x` must be a string but is
 * not read for a private key (a Node that read it would refuse the empty
 * one, and the DER import is used instead).
 */
export function privateKeyFromRaw(crv: 'Ed25519' | 'X25519', bytes: Uint8Array): KeyObject {
  const d = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return createPrivateKey({
      key: { kty: 'OKP', crv, d: d.toString('base64url'), x: '' },
      format: 'jwk',
    });
  } catch {
    const der = Buffer.concat([PKCS8_PREFIX[crv], d]);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  }
}

/** A raw 32-byte public key of `crv` as a key object (a JWK: about 10 µs, against 100 through DER). */
export function publicKeyFromRaw(crv: 'Ed25519' | 'X25519', bytes: Uint8Array): KeyObject {
  const x = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv, x }, format: 'jwk' });
}

/**
 * The one PEM form each Ed25519 key here is written in (Node's and
 * OpenSSL's): a private key's 48 DER bytes as one line of 64 base64
 * characters, a public key's 44 as one of 60. Anything else, a looser form
 * OpenSSL refuses included, is left to OpenSSL.
 */
const ED25519_PRIVATE_PEM =
  /^[\t\n\r ]*-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/]{64})\r?\n-----END PRIVATE KEY-----[\t\n\r ]*$/;
const ED25519_PUBLIC_PEM =
  /^[\t\n\r ]*-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/]{59}=)\r?\n-----END PUBLIC KEY-----[\t\n\r ]*$/;

/** The DER of `pem` when it is exactly in `form`, else null. */
function pemBody(pem: Buffer | string, form: RegExp): Buffer | null {
  // A key is a few hundred bytes: a larger file is not one of these.
  if (pem.length > 512) return null;
  const m = form.exec(typeof pem === 'string' ? pem : pem.toString('latin1'));
  return m?.[1] ? Buffer.from(m[1], 'base64') : null;
}

/**
 * A private key from PEM. An Ed25519 key in PKCS#8 (how every key here is
 * written) is imported from its seed (privateKeyFromRaw); anything else
 * goes to OpenSSL, whose error says what is wrong with it.
 */
export function importPrivateKey(pem: Buffer | string): KeyObject {
  const der = pemBody(pem, ED25519_PRIVATE_PEM);
  if (der?.length === 48 && der.subarray(0, 16).equals(ED25519_PKCS8_PREFIX)) {
    return privateKeyFromRaw('Ed25519', der.subarray(16));
  }
  return createPrivateKey(pem);
}

/** A public key from PEM: an Ed25519 SPKI key from its 32 bytes (publicKeyFromRaw), anything else through OpenSSL. */
export function importPublicKey(pem: Buffer | string): KeyObject {
  const der = pemBody(pem, ED25519_PUBLIC_PEM);
  if (der?.length === 44 && der.subarray(0, 12).equals(ED25519_SPKI_PREFIX)) {
    return publicKeyFromRaw('Ed25519', der.subarray(12));
  }
  return createPublicKey(pem);
}

/**
 * A new Ed25519 private key, from 32 random bytes (the seed Ed25519 keys are
 * made of). Not generateKeyPairSync: exporting a key that call just made can
 * deadlock Node 20 when a garbage collection runs during the export (the
 * finished key generation job, collected, waits for the lock the export holds).
 */
export function newEd25519Key(): KeyObject {
  return privateKeyFromRaw('Ed25519', randomBytes(32));
}

export function publicPathFor(privatePath: string): string {
  return `${privatePath.replace(/\.key$/, '')}.pub`;
}

/** The verification key from inline PEM, else from a file. */
export function loadVerifyKey(inlinePem: string, file: string): KeyObject {
  if (inlinePem.trim()) {
    try {
      return importPublicKey(inlinePem);
    } catch (err) {
      throw new JobKeyError(
        `agent.security.job_verify_key is not a public key in PEM form: ${(err as Error).message}`,
      );
    }
  }
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch {
    throw new JobKeyError(
      `no job verification key: ${file} does not exist. Copy the API server's job-signing.pub there, or set agent.security.job_verify_key (OSAPI_AGENT_SECURITY_JOB_VERIFY_KEY). Agents run only jobs the API signed.`,
    );
  }
  try {
    return importPublicKey(pem);
  } catch (err) {
    throw new JobKeyError(
      `${file} does not hold a public key in PEM form: ${(err as Error).message}`,
    );
  }
}
