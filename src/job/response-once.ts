// Stores an agent's result only if none exists yet for that (job, host), in
// one atomic write. Agents need it because their NATS user may write results
// but not read any (so that one agent cannot read another's output): a
// redelivered job learns whether its earlier run finished from this write.

import { kvSubject, responseKey } from '../names/names.js';
import { isWrongLastSequence } from '../nats/errors.js';
import type { JobResponse } from './records.js';
import { encodeResponse, resultBudget } from './result-size.js';
import { type JobStore, resultHeaders } from './store.js';

/** True when stored; false when a result for this job and host was already there. */
export async function storeResponseOnce(store: JobStore, r: JobResponse): Promise<boolean> {
  // KV.create would read the key after a conflict, which the agent may not do:
  // a publish expecting no earlier message on the key is the same create.
  const subject = kvSubject(store.names.responsesBucket, responseKey(r.job_id, r.hostname));
  const body = encodeResponse(r, resultBudget(store.nc.info?.max_payload));
  try {
    await store.js.publish(subject, body, {
      expect: { lastSubjectSequence: 0 },
      headers: resultHeaders(store, r, body),
    });
    return true;
  } catch (err) {
    if (isWrongLastSequence(err)) return false;
    throw err;
  }
}
