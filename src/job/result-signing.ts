// Results signed by whoever stored them, so the API takes a result for host H
// only from H's accepted key (agent/identity.ts, the agent-enrollment bucket)
// or from an API server (a result it records itself: lost runs, skipped
// hosts). Where a fleet shares one NATS user, any agent can write under any
// host's key; the signature is what tells them apart. The signature covers
// the headers the API reads results by (state, error) and the body's digest,
// so a follow of headers alone can check it, and a read of the body checks
// the digest too. An agent also adds an HMAC of the same bytes under the key
// it shares with the API servers (result-mac.ts), which the API checks
// instead of the signature when it can, for far less CPU: it proves the
// result is that agent's or an API server's, where the signature proves it
// is the agent's.
import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import type { MsgHdrs } from '@nats-io/transport-node';
import {
  RESULT_DIGEST_HEADER,
  RESULT_ERROR_HEADER,
  RESULT_MAC_HEADER,
  RESULT_SIGNATURE_HEADER,
  RESULT_SIGNER_HEADER,
  RESULT_STATE_HEADER,
} from '../names/names.js';
import { resultMac, resultMacMatches } from './result-mac.js';
import { publicKeyFromRaw } from './signing.js';
import { fingerprintOf as sshFingerprint } from './ssh-keys.js';

export type ResultSignerKind = 'agent' | 'api';

/** The key a process signs its results with. */
export interface ResultSigner {
  key: KeyObject;
  as: ResultSignerKind;
  /** The key an agent shares with the API servers (result-mac.ts): its results carry an HMAC too. */
  macKey?: Buffer | null;
}

/** Who may have stored a result for a host: the keys the API trusts for it. */
export interface ResultTrust {
  /** The host's accepted key (signer `agent`) or an API server's (signer `api`); null: none. */
  keyFor(hostname: string, signer: ResultSignerKind): KeyObject | null;
  /** Told of each result left out, and why (logged, once per job and host). */
  refused?(jobId: string, hostname: string, why: string): void;
  /**
   * The key the host of this accepted key shares with the API servers
   * (result-mac.ts); null: none, and the signature is checked.
   */
  macKeyOf?(key: KeyObject): Buffer | null;
  /**
   * Signatures already checked with a key (with what they signed), and how
   * it went: one result is
   * looked at by the live answer, the jobs view and each read, and one
   * Ed25519 check is enough.
   */
  checked?: {
    get(key: KeyObject, sig: string): boolean | undefined;
    set(key: KeyObject, sig: string, ok: boolean): void;
  };
}

function digestOf(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The bytes a result's signature and MAC cover: its job, host, state and error headers, and its body's digest. */
export function signedBytes(
  jobId: string,
  hostname: string,
  h: MsgHdrs,
  digest = h.get(RESULT_DIGEST_HEADER),
): Buffer {
  return Buffer.from(
    [
      'osapi-result',
      jobId,
      hostname,
      h.get(RESULT_STATE_HEADER),
      h.get(RESULT_ERROR_HEADER),
      digest,
    ].join('\n'),
  );
}

/** Adds the digest, signer and signature headers to a result's headers. */
export function signResult(
  h: MsgHdrs,
  jobId: string,
  hostname: string,
  body: Uint8Array | string,
  signer: ResultSigner,
): void {
  const digest = digestOf(body);
  h.set(RESULT_DIGEST_HEADER, digest);
  h.set(RESULT_SIGNER_HEADER, signer.as);
  const signed = signedBytes(jobId, hostname, h, digest);
  h.set(RESULT_SIGNATURE_HEADER, sign(null, signed, signer.key).toString('base64'));
  if (signer.macKey) h.set(RESULT_MAC_HEADER, resultMac(signer.macKey, signed));
}

/**
 * Why a stored result is not to be trusted, or null when it is: signed by the
 * host's accepted key (or an API server's) over its headers and, when the
 * body is given, over that very body.
 */
export function resultDistrust(
  trust: ResultTrust,
  jobId: string,
  hostname: string,
  h: MsgHdrs | undefined,
  body?: Uint8Array,
): string | null {
  const signer = h?.get(RESULT_SIGNER_HEADER);
  const sig = h?.get(RESULT_SIGNATURE_HEADER);
  const digest = h?.get(RESULT_DIGEST_HEADER);
  if (!h || !sig || !digest || (signer !== 'agent' && signer !== 'api')) {
    return 'the result is not signed';
  }
  if (body !== undefined && digestOf(body) !== digest) {
    return 'the result is not the one that was signed';
  }
  const key = trust.keyFor(hostname, signer);
  if (!key) {
    return signer === 'agent'
      ? `no key of ${hostname} is accepted (GET /agent/pending)`
      : 'no API key is known';
  }
  const signed = signedBytes(jobId, hostname, h, digest);
  const mac = signer === 'agent' ? h.get(RESULT_MAC_HEADER) : '';
  if (mac) {
    const macKey = trust.macKeyOf?.(key);
    // A MAC that does not match (the agent's API key is another, say) leaves
    // the signature to decide.
    if (macKey && resultMacMatches(macKey, signed, mac)) return null;
  }
  // Remembered by what was signed and the signature together: a signature
  // checked once says nothing of another message carrying it.
  const seen = `${signed.toString()}\n${sig}`;
  let ok = trust.checked?.get(key, seen);
  if (ok === undefined) {
    try {
      ok = verify(null, signed, key, Buffer.from(sig, 'base64'));
    } catch {
      ok = false;
    }
    trust.checked?.set(key, seen, ok);
  }
  return ok ? null : `the signature is not ${hostname}'s accepted key's`;
}

/** The fingerprint of an agent's raw public key in base64 (as `osapi agent key fingerprint` prints it). */
export function fingerprintOf(publicKeyBase64: string): string {
  return sshFingerprint(Buffer.from(publicKeyBase64, 'base64'));
}

/** A raw Ed25519 public key (base64, as agents present it) as a key object; null when invalid. */
export function publicKeyOf(raw: string): KeyObject | null {
  try {
    return publicKeyFromRaw('Ed25519', Buffer.from(raw, 'base64'));
  } catch {
    return null;
  }
}
