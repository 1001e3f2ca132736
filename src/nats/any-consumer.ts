// The one durable pull consumer all agents share for `_any` jobs: each job to
// exactly one agent. Part of the JetStream layout: the API server makes it
// (and brings it to the configured settings) at start; an agent makes it only
// when it finds none. Jobs for `_all`, a host or a label need no consumer:
// agents hear them on plain subscriptions (agent/listener.ts).
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  jetstreamManager,
  ReplayPolicy,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  consumerName,
  type InfraNames,
  listenSubject,
  retiredConsumerPrefixes,
} from '../names/names.js';
import { isNotFound } from './errors.js';

/** The `agent.consumer` section of the config, durations in milliseconds. */
export interface ConsumerSettings {
  name: string;
  max_deliver: number;
  ack_wait: number;
  max_ack_pending: number;
  max_waiting: number;
  replay_policy: 'instant' | 'original';
  back_off: number[];
}

/** nats-server's own max_waiting when none is given. */
export const SERVER_DEFAULT_MAX_WAITING = 512;

const nanos = (ms: number) => ms * 1_000_000;

/** The shared consumer's name: `<agent.consumer.name>-any`. */
export function sharedConsumerName(s: ConsumerSettings): string {
  return consumerName(s.name, { any: true });
}

export function sharedConsumerConfig(
  names: InfraNames,
  s: ConsumerSettings,
): Partial<ConsumerConfig> & { durable_name: string } {
  const backoff = s.back_off.slice(0, Math.max(0, s.max_deliver - 1)).map(nanos);
  return {
    durable_name: sharedConsumerName(s),
    filter_subject: listenSubject(names, { kind: 'any' }),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    max_deliver: s.max_deliver,
    ack_wait: nanos(s.ack_wait),
    max_ack_pending: s.max_ack_pending,
    // One waiting pull per idle agent: past this the server refuses pulls,
    // and the agents it refuses take no `_any` work.
    max_waiting: s.max_waiting,
    replay_policy: s.replay_policy === 'original' ? ReplayPolicy.Original : ReplayPolicy.Instant,
    // max_deliver deliveries have max_deliver - 1 gaps between them, and
    // the server refuses more back-off entries than that.
    ...(backoff.length > 0 ? { backoff } : {}),
  };
}

export type SharedConsumerAction = 'created' | 'unchanged' | 'updated' | 'replaced';

/**
 * The API server's side, at start: makes the shared consumer, or brings it to
 * the configured settings. max_waiting cannot change in place (nats-server
 * 2.9), so a consumer made with a smaller one is made again, starting after
 * the last job it saw acknowledged: jobs in flight are offered again, and
 * their claims keep any from running twice.
 */
export async function ensureSharedConsumer(
  jsm: JetStreamManager,
  names: InfraNames,
  s: ConsumerSettings,
): Promise<SharedConsumerAction> {
  const cfg = sharedConsumerConfig(names, s);
  const name = cfg.durable_name;
  let have: Awaited<ReturnType<JetStreamManager['consumers']['info']>>;
  try {
    have = await jsm.consumers.info(names.stream, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(names.stream, cfg);
    return 'created';
  }
  if ((have.config.max_waiting ?? SERVER_DEFAULT_MAX_WAITING) < s.max_waiting) {
    await jsm.consumers.delete(names.stream, name);
    await jsm.consumers.add(names.stream, {
      ...cfg,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: have.ack_floor.stream_seq + 1,
    });
    return 'replaced';
  }
  const c = have.config;
  const same =
    c.max_deliver === cfg.max_deliver &&
    c.ack_wait === cfg.ack_wait &&
    c.max_ack_pending === cfg.max_ack_pending &&
    JSON.stringify(c.backoff ?? []) === JSON.stringify(cfg.backoff ?? []);
  if (same) return 'unchanged';
  await jsm.consumers.update(names.stream, name, {
    max_deliver: cfg.max_deliver,
    ack_wait: cfg.ack_wait,
    max_ack_pending: cfg.max_ack_pending,
    ...(cfg.backoff ? { backoff: cfg.backoff } : {}),
  });
  return 'updated';
}

/** ensureSharedConsumer through a connection (`osapi nats server start`, which makes the layout too). */
export async function ensureSharedConsumerOn(
  nc: NatsConnection,
  names: InfraNames,
  s: ConsumerSettings,
): Promise<SharedConsumerAction> {
  return ensureSharedConsumer(await jetstreamManager(nc), names, s);
}

/**
 * Removes the per-agent durable consumers (`<name>-all-<host>`,
 * `<name>-host-<host>`, `<name>-label-...`) that agents of earlier versions
 * made: nothing pulls from them any more, and each holds server memory.
 */
export async function removeRetiredConsumers(
  jsm: JetStreamManager,
  names: InfraNames,
  s: ConsumerSettings,
): Promise<number> {
  const retired = retiredConsumerPrefixes(s.name);
  const doomed: string[] = [];
  for await (const ci of jsm.consumers.list(names.stream)) {
    if (retired.some((p) => ci.name.startsWith(p))) doomed.push(ci.name);
  }
  for (const name of doomed) await jsm.consumers.delete(names.stream, name).catch(() => false);
  return doomed.length;
}
