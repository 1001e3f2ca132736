// The agent's side of the shared `_any` consumer (nats/any-consumer.ts).
import type { Consumer, JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '../log/logger.js';
import type { InfraNames } from '../names/names.js';
import {
  type ConsumerSettings,
  SERVER_DEFAULT_MAX_WAITING,
  sharedConsumerName,
} from '../nats/any-consumer.js';
import { isNotFound } from '../nats/errors.js';

export type { ConsumerSettings };

/**
 * The agent's side: opens the shared consumer. The API server makes it at
 * start; an agent may not (its NATS user may make no consumer on the jobs
 * stream: docs/security.md), so one that finds none fails here and its
 * caller tries again until the API has made it.
 */
export async function openSharedConsumer(
  js: JetStreamClient,
  names: InfraNames,
  s: ConsumerSettings,
  logger: Logger,
): Promise<Consumer> {
  const name = sharedConsumerName(s);
  let consumer: Consumer;
  try {
    consumer = await js.consumers.get(names.stream, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new SharedConsumerMissingError(
      `the shared _any consumer ${name} does not exist yet on stream ${names.stream}: the API server makes it when it starts (start the API server, or check that agent.consumer.name matches its own)`,
    );
  }
  const info = await consumer.info(true);
  if ((info.config.max_waiting ?? SERVER_DEFAULT_MAX_WAITING) < s.max_waiting) {
    logger.warn(
      { consumer: name, max_waiting: info.config.max_waiting, configured: s.max_waiting },
      'the shared _any consumer holds fewer waiting pulls than agent.consumer.max_waiting; agents past that limit take no _any jobs until the API server restarts and makes it again',
    );
  }
  return consumer;
}

/** The shared consumer is not there (yet): the API server makes it. */
export class SharedConsumerMissingError extends Error {
  override name = 'SharedConsumerMissingError';
}
