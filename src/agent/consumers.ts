// The durable pull consumers an agent listens on, one filter subject each
// (nats-server 2.9): a shared one for `_any` (each job to exactly one agent),
// and per agent one for `_all`, one for its host and one per label prefix.
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { consumerName, type InfraNames, listenSubject, type RouteTarget } from '../job/names.js';
import { labelPrefixes } from '../job/target.js';
import type { Logger } from '../log/logger.js';

export interface ConsumerSettings {
  name: string;
  max_deliver: number;
  ack_wait: number;
  max_ack_pending: number;
  max_waiting: number;
  replay_policy: 'instant' | 'original';
  back_off: number[];
}

export interface AgentConsumer {
  name: string;
  /** Shared by all agents: take a message only when there is a free slot to run it. */
  shared: boolean;
}

export function agentTargets(
  hostname: string,
  labels: Record<string, string>,
): Array<{ target: RouteTarget; shared: boolean; name: (base: string) => string }> {
  const out: Array<{ target: RouteTarget; shared: boolean; name: (base: string) => string }> = [
    { target: { kind: 'any' }, shared: true, name: (b) => consumerName(b, { any: true }) },
    { target: { kind: 'all' }, shared: false, name: (b) => consumerName(b, { all: hostname }) },
    {
      target: { kind: 'host', hostname },
      shared: false,
      name: (b) => consumerName(b, { host: hostname }),
    },
  ];
  for (const [key, value] of Object.entries(labels).sort()) {
    for (const prefix of labelPrefixes(value)) {
      out.push({
        target: { kind: 'label', key, value: prefix },
        shared: false,
        name: (b) => consumerName(b, { label: `${key}.${prefix}`, host: hostname }),
      });
    }
  }
  return out;
}

const ms = (n: number) => n * 1_000_000;

/** Creates (or finds) the agent's consumers; idempotent across restarts. */
export async function ensureAgentConsumers(
  jsm: JetStreamManager,
  names: InfraNames,
  hostname: string,
  labels: Record<string, string>,
  s: ConsumerSettings,
  logger: Logger,
): Promise<AgentConsumer[]> {
  const out: AgentConsumer[] = [];
  const backoff = s.back_off.slice(0, Math.max(0, s.max_deliver - 1)).map(ms);
  for (const t of agentTargets(hostname, labels)) {
    const name = t.name(s.name);
    const cfg: Partial<ConsumerConfig> & { durable_name: string } = {
      durable_name: name,
      filter_subject: listenSubject(names, t.target),
      ack_policy: AckPolicy.Explicit,
      // A new agent starts with new jobs; a returning one resumes where it left.
      deliver_policy: DeliverPolicy.New,
      max_deliver: s.max_deliver,
      ack_wait: ms(s.ack_wait),
      max_ack_pending: s.max_ack_pending,
      replay_policy: s.replay_policy === 'original' ? ReplayPolicy.Original : ReplayPolicy.Instant,
      // max_deliver deliveries have max_deliver - 1 gaps between them, and
      // the server refuses more back-off entries than that.
      ...(backoff.length > 0 ? { backoff } : {}),
      ...(t.shared ? { max_waiting: s.max_waiting } : {}),
    };
    try {
      await jsm.consumers.add(names.stream, cfg);
    } catch (err) {
      // Another agent made the shared consumer with other settings, or ours
      // changed since last start: update what may change, else use it as is.
      try {
        await jsm.consumers.update(names.stream, name, {
          max_deliver: cfg.max_deliver,
          ack_wait: cfg.ack_wait,
          max_ack_pending: cfg.max_ack_pending,
          ...(cfg.backoff ? { backoff: cfg.backoff } : {}),
          ...(cfg.max_waiting ? { max_waiting: cfg.max_waiting } : {}),
        });
      } catch {
        logger.warn(
          { consumer: name, err: String(err) },
          'using the existing consumer with its own settings',
        );
      }
    }
    out.push({ name, shared: t.shared });
  }
  return out;
}
