// The NATS permissions of the agent user: everything an agent does, and
// nothing that lets its credentials start a job or read another agent's
// results. The API user has no limits; it is the one that makes jobs.
import { cancelSubjectAll, type InfraNames, outputFilter } from '../job/names.js';
import { JS_API, kvKeys, kvStream } from './subjects.js';

/** nats-server's permission block for one user; deny beats allow. */
export interface NatsPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
}

/**
 * What an agent needs, as the subjects nats.js 3.x uses against nats-server
 * 2.9 (see docs/configuration.md, "NATS authentication", for what remains
 * open and why):
 *
 * - JetStream account info (`$JS.API.INFO`): the clients check the API once.
 * - Job notifications on plain subscriptions (`<ns>.jobs.>`: `_all`, its
 *   host, its labels); it may hear every notification, but a notification is
 *   only a job id, and the definition is readable to agents anyway.
 * - Consumers on the jobs stream: open (or make, when it is the first) the
 *   shared `_any` durable, and make ephemeral ones to read back what it missed
 *   (all three forms of the create request), read their info, pull, and
 *   ack/nak/term/working (`$JS.ACK.<stream>.>`).
 * - Reading the job-queue bucket (job definitions, claims): KV gets go out
 *   as STREAM.MSG.GET (or DIRECT.GET) on the bucket's stream.
 * - Writing claims and status events, but not job definitions (`jobs.>`).
 * - Writing results and its registry entry (put and delete are publishes).
 * - Cancellations (`<ns>.cancel.*`, core NATS) and reading `cancel.<id>`
 *   keys, which the bucket reads above already cover.
 * - Replies on `_INBOX.>`. The API uses another prefix (API_INBOX_PREFIX),
 *   so an agent cannot listen to the replies the API receives.
 * - Publishing live output (`<ns>.output.>`). All agents share one user, so
 *   the server cannot tie a subject to one hostname: an agent could send
 *   output in another's name. Live output is shown, never stored; the stored
 *   result, written under the agent's own key, stays the record.
 *
 * The deny lists repeat, explicitly, what must stay closed even if someone
 * widens an allow list: publishing notifications, writing definitions, and
 * every way to read the responses bucket (get, direct get, a consumer on its
 * stream, or a plain subscription to its subjects), and listening to other
 * hosts' live output.
 */
export function agentPermissions(names: InfraNames): NatsPermissions {
  const jobs = names.stream;
  const queue = names.jobsBucket;
  const queueStream = kvStream(queue);
  const responses = names.responsesBucket;
  const responsesStream = kvStream(responses);
  const registry = names.registryBucket;
  const streamInfo = [jobs, queueStream, responsesStream, kvStream(registry)].map(
    (s) => `${JS_API}.STREAM.INFO.${s}`,
  );
  return {
    publish: {
      allow: [
        `${JS_API}.INFO`,
        ...streamInfo,
        `${JS_API}.CONSUMER.CREATE.${jobs}`,
        `${JS_API}.CONSUMER.CREATE.${jobs}.>`,
        `${JS_API}.CONSUMER.DURABLE.CREATE.${jobs}.*`,
        `${JS_API}.CONSUMER.INFO.${jobs}.*`,
        `${JS_API}.CONSUMER.MSG.NEXT.${jobs}.*`,
        `$JS.ACK.${jobs}.>`,
        `${JS_API}.STREAM.MSG.GET.${queueStream}`,
        `${JS_API}.DIRECT.GET.${queueStream}`,
        `${JS_API}.DIRECT.GET.${queueStream}.>`,
        kvKeys(queue, 'claims'),
        kvKeys(queue, 'status'),
        kvKeys(responses),
        kvKeys(registry),
        outputFilter(names),
      ],
      deny: [
        // A job notification: `<ns>.jobs.>` (the stream's subjects).
        names.streamSubjects,
        // A job definition.
        kvKeys(queue, 'jobs'),
        // Any read of results.
        `${JS_API}.STREAM.MSG.GET.${responsesStream}`,
        `${JS_API}.DIRECT.GET.${responsesStream}`,
        `${JS_API}.DIRECT.GET.${responsesStream}.>`,
        `${JS_API}.CONSUMER.CREATE.${responsesStream}`,
        `${JS_API}.CONSUMER.CREATE.${responsesStream}.>`,
        `${JS_API}.CONSUMER.DURABLE.CREATE.${responsesStream}.>`,
      ],
    },
    subscribe: {
      // Jobs are heard on plain subscriptions to the notification subjects;
      // cancellations of running jobs come as core messages (names.ts).
      allow: ['_INBOX.>', names.streamSubjects, cancelSubjectAll(names)],
      deny: [kvKeys(responses), outputFilter(names)],
    },
  };
}
