// Which stored results the API believes (job/result-signing.ts): a host's
// results signed by the key accepted for that host now, and results signed
// by an API server's job-signing key (which every API server of a fleet
// shares). Any other is left out of every answer and logged once.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AgentStateView } from '../job/agent-state-view.js';
import { resultMacKeys } from '../job/result-mac.js';
import { publicKeyOf, type ResultTrust } from '../job/result-signing.js';
import type { Logger } from '../log/logger.js';

/** Refusals remembered, so each (job, host) is logged once; forgotten past this many. */
const TOLD_MAX = 10_000;
/**
 * Accepted keys kept as key objects, one per agent: forgotten all at once
 * past this many, which a fleet's own size must not reach, since each key
 * made again costs its shared MAC key again (about 350 µs).
 */
const KEYS_MAX = 200_000;

export interface ApiResultTrust extends ResultTrust {
  /** The decisions on agents' keys, once their view is followed. */
  bind(states: AgentStateView): void;
}

export function apiResultTrust(apiPrivateKey: KeyObject, logger: Logger): ApiResultTrust {
  const apiKey = createPublicKey(apiPrivateKey);
  let states: AgentStateView | undefined;
  const keys = new Map<string, KeyObject | null>();
  const told = new Set<string>();
  // Per key (a replaced key is a new object: nothing it checked carries over).
  const checks = new WeakMap<KeyObject, Map<string, boolean>>();
  // Per accepted key, made at its first result: the key its agent shares
  // with the API servers (job/result-mac.ts).
  const macKeys = new WeakMap<KeyObject, Buffer | null>();
  const macKeyWith = resultMacKeys(apiPrivateKey);
  return {
    macKeyOf(key) {
      let macKey = macKeys.get(key);
      if (macKey === undefined) {
        macKey = macKeyWith(key);
        macKeys.set(key, macKey);
      }
      return macKey;
    },
    checked: {
      get: (key, signed) => checks.get(key)?.get(signed),
      set(key, signed, ok) {
        let m = checks.get(key);
        if (!m) {
          m = new Map();
          checks.set(key, m);
        }
        // Bounded: a result is looked at within moments of being stored.
        if (m.size >= TOLD_MAX) m.clear();
        m.set(signed, ok);
      },
    },
    bind(view) {
      states = view;
    },
    keyFor(hostname, signer) {
      if (signer === 'api') return apiKey;
      const decision = states?.decision(hostname);
      if (decision?.status !== 'accepted') return null;
      let key = keys.get(decision.public_key);
      if (key === undefined) {
        key = publicKeyOf(decision.public_key);
        if (keys.size > KEYS_MAX) keys.clear();
        keys.set(decision.public_key, key);
      }
      return key;
    },
    refused(jobId, hostname, why) {
      const id = `${jobId}/${hostname}`;
      if (told.has(id)) return;
      if (told.size >= TOLD_MAX) told.clear();
      told.add(id);
      logger.warn(
        { job_id: jobId, hostname, reason: why },
        'refused a result: not signed by a key this API trusts for that host',
      );
    },
  };
}
