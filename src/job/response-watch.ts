// One follow of the job-responses bucket for the whole API process: each
// waiting request registers for its job id before the job is published, so no
// answer can slip between publish and subscribe, and no request pays for a
// consumer of its own.
import type { Logger } from '../log/logger.js';
import { parseResponseKey } from '../names/names.js';
import { followKv, type KvSource } from './kv-follow.js';
import { type JobResponse, parseJobResponse } from './records.js';
import { type ResultTrust, resultDistrust } from './result-signing.js';

export interface ResponseWatch {
  /** Calls `onResponse` for each result of the job until the returned function is called. */
  register(jobId: string, onResponse: (r: JobResponse) => void): () => void;
  /**
   * Whether the follow of results was cut at some time since `since` (NATS
   * away, a node lost): results stored meanwhile come when it goes on, but
   * agents' results sent while the cluster elected a leader may be lost.
   */
  cutSince(since: Date): boolean;
  stop(): void;
}

export async function watchResponses(
  responses: KvSource,
  logger: Logger,
  /** Results not signed as it says are left out (result-signing.ts). */
  trust?: ResultTrust,
): Promise<ResponseWatch> {
  const waiters = new Map<string, Set<(r: JobResponse) => void>>();
  const follow = await followKv(responses, { keys: '>', from: 'updates', logger }, (e) => {
    if (e.operation !== 'PUT') return;
    const key = parseResponseKey(e.key);
    const set = key && waiters.get(key.id);
    if (!set) return;
    let r: JobResponse;
    try {
      r = parseJobResponse(e.value);
    } catch (err) {
      logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid job response');
      return;
    }
    // A result is its key's host's: one whose body names another host is
    // someone writing in another's name.
    if (r.hostname !== key.hostname || r.job_id !== key.id) {
      logger.warn({ key: e.key }, 'ignoring a job response whose body names another job or host');
      return;
    }
    if (trust) {
      const why = resultDistrust(trust, r.job_id, r.hostname, e.headers, e.value);
      if (why) {
        trust.refused?.(r.job_id, r.hostname, why);
        return;
      }
    }
    for (const fn of set) fn(r);
  });
  return {
    register(jobId, onResponse) {
      let set = waiters.get(jobId);
      if (!set) {
        set = new Set();
        waiters.set(jobId, set);
      }
      set.add(onResponse);
      return () => {
        set.delete(onResponse);
        if (set.size === 0) waiters.delete(jobId);
      };
    },
    cutSince(since) {
      const following = follow.followingSince;
      return following === null || following > since;
    },
    stop() {
      follow.stop();
    },
  };
}
