// The NATS permissions of the agent user: everything an agent does, and
// nothing that lets its credentials start a job or read another agent's
// results. The API user has no limits; it is the one that makes jobs.
import {
  AGENT_INBOX_PREFIX,
  API_EVENT_HOST,
  agentWrites,
  jsApiSubject as api,
  cancelSubjectAll,
  controlFilter,
  controlSubject,
  type InfraNames,
  inboxFilter,
  jsAckFilter,
  kvKeys,
  kvStream,
  kvSubject,
  objectStream,
  objectSubjects,
  outputFilter,
} from '../names/names.js';

/** nats-server's permission block for one user; deny beats allow. */
export interface NatsPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[]; deny: string[] };
}

/** Who an agent user is: the shared consumer it pulls `_any` from, and, when known, its host. */
export interface AgentUser {
  /** The durable name of the shared `_any` consumer (any-consumer.ts). */
  sharedConsumer: string;
  /**
   * The one host this user is for. Its writes are then held to that host's
   * keys: it cannot store a result, claim, status event or registry entry
   * in another host's name. Without it (one user shared by a fleet) the
   * server cannot tell agents apart, and the API is the check (docs/security.md).
   */
  hostname?: string;
}

/**
 * What an agent needs, as the subjects nats.js 3.x uses against nats-server
 * 2.9 (see docs/security.md, "Threat model", for what remains open and why):
 *
 * - JetStream account info (`$JS.API.INFO`): the clients check the API once.
 * - Job notifications on plain subscriptions (`<ns>.jobs.>`: `_all`, its
 *   host, its labels); it may hear every notification, but a notification
 *   only runs where its signed target says (agent/addressed.ts).
 * - The shared `_any` durable, which the API makes: its info, pulls from it,
 *   and ack/nak/term/working on what it delivers. No consumer of its own on
 *   the jobs stream: a pull's messages go to whatever reply subject the
 *   request names, another host's notification subject included, so a user
 *   that could make one could replay every stored notification there.
 *   What an agent missed is read back by direct reads (STREAM.MSG.GET).
 * - Reading the job-queue bucket (job definitions, claims, expected hosts,
 *   cancel markers) and the agent-state bucket (drained or not): KV gets go
 *   out as STREAM.MSG.GET (or DIRECT.GET).
 * - Hearing its control subject, which says its agent-state entry changed.
 * - Writing claims and status events, but not job definitions (`jobs.>`).
 * - Writing results, its registry entry and its facts (put and delete are
 *   publishes).
 * - Cancellations (`<ns>.cancel.*`, core NATS).
 * - Replies on `_INBOX.>`. The API uses another prefix (API_INBOX_PREFIX),
 *   so an agent cannot listen to the replies the API receives.
 * - Publishing live output (`<ns>.output.>`).
 * - Reading objects of the file store by direct reads (file deployments),
 *   never writing one; reading and writing its deployment records.
 *
 * With a hostname, every write is held to that host's keys (agentWrites).
 * The deny lists repeat, explicitly, what must stay closed even if someone
 * widens an allow list: publishing notifications, writing definitions,
 * making consumers on the jobs stream, every way to read the responses
 * bucket (get, direct get, a consumer on its stream, or a plain
 * subscription to its subjects) or the console's login codes, and
 * listening to live output.
 */
export function agentPermissions(names: InfraNames, user: AgentUser): NatsPermissions {
  const jobs = names.stream;
  const shared = user.sharedConsumer;
  const queue = names.jobsBucket;
  const queueStream = kvStream(queue);
  const responses = names.responsesBucket;
  const responsesStream = kvStream(responses);
  const registry = names.registryBucket;
  const logins = names.loginCodesBucket;
  const loginsStream = kvStream(logins);
  const facts = names.factsBucket;
  const stateStream = kvStream(names.agentStateBucket);
  const enrollmentStream = kvStream(names.enrollmentBucket);
  const filesStream = objectStream(names.filesBucket);
  const deployments = names.deploymentsBucket;
  const deploymentsStream = kvStream(deployments);
  const streamInfo = [
    filesStream,
    deploymentsStream,
    jobs,
    queueStream,
    responsesStream,
    kvStream(registry),
    kvStream(facts),
    stateStream,
    enrollmentStream,
  ].map(api.streamInfo);
  const writes = agentWrites(names, user.hostname);
  return {
    publish: {
      allow: [
        api.accountInfo(),
        ...streamInfo,
        api.consumerInfo(jobs, shared),
        api.consumerNext(jobs, shared),
        jsAckFilter(jobs, shared),
        api.msgGet(jobs),
        api.msgGet(queueStream),
        api.directGet(queueStream),
        api.directGetAll(queueStream),
        // Reading what operators asked of it (drained or not); never writing it.
        api.msgGet(stateStream),
        api.directGet(stateStream),
        api.directGetAll(stateStream),
        // Reading whether it was accepted; never writing it.
        api.msgGet(enrollmentStream),
        api.directGet(enrollmentStream),
        api.directGetAll(enrollmentStream),
        // Reading objects of the file store to deploy them; never writing one.
        api.msgGet(filesStream),
        api.directGet(filesStream),
        api.directGetAll(filesStream),
        // Reading and writing what it deployed (its own keys, with a hostname).
        api.msgGet(deploymentsStream),
        api.directGet(deploymentsStream),
        api.directGetAll(deploymentsStream),
        kvSubject(deployments, writes.deployments),
        ...writes.claims.map((k) => kvSubject(queue, k)),
        kvSubject(queue, writes.status),
        kvSubject(responses, writes.response),
        kvSubject(registry, writes.registry),
        kvSubject(facts, writes.facts),
        writes.output,
      ],
      deny: [
        // A job notification: `<ns>.jobs.>` (the stream's subjects).
        names.streamSubjects,
        // A job definition, and a status event in the API's name (a cancel).
        kvKeys(queue, 'jobs'),
        // A rollout's progress: only API servers drive rollouts.
        kvKeys(queue, 'rollouts'),
        // What operators asked of agents: only API servers write it.
        kvKeys(names.agentStateBucket),
        // Which keys are accepted: only API servers decide.
        kvKeys(names.enrollmentBucket),
        kvSubject(queue, agentWrites(names, API_EVENT_HOST).status),
        // A consumer of its own on the jobs stream (see above).
        api.consumerCreate(jobs),
        api.consumerCreateAll(jobs),
        api.durableCreateAll(jobs),
        api.consumerDeleteAll(jobs),
        // Any read of results.
        api.msgGet(responsesStream),
        api.directGet(responsesStream),
        api.directGetAll(responsesStream),
        api.consumerCreate(responsesStream),
        api.consumerCreateAll(responsesStream),
        api.durableCreateAll(responsesStream),
        // Writing or removing an object of the file store.
        objectSubjects(names.filesBucket),
        // Any read or write of the console's login codes.
        kvKeys(logins),
        api.msgGet(loginsStream),
        api.directGet(loginsStream),
        api.directGetAll(loginsStream),
        api.consumerCreate(loginsStream),
        api.consumerCreateAll(loginsStream),
        api.durableCreateAll(loginsStream),
      ],
    },
    subscribe: {
      // Jobs are heard on plain subscriptions to the notification subjects;
      // cancellations of running jobs come as core messages (names.ts).
      // The API tells an agent its agent-state entry changed on its control subject.
      allow: [
        inboxFilter(AGENT_INBOX_PREFIX),
        names.streamSubjects,
        cancelSubjectAll(names),
        user.hostname === undefined ? controlFilter(names) : controlSubject(names, user.hostname),
      ],
      deny: [kvKeys(responses), kvKeys(logins), outputFilter(names)],
    },
  };
}
