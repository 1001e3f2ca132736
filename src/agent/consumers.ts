// The agent's side of the shared `_any` consumer (nats/any-consumer.ts).
import type { Consumer, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { InfraNames } from '../job/names.js';
import type { Logger } from '../log/logger.js';
import {
  type ConsumerSettings,
  isNotFound,
  SERVER_DEFAULT_MAX_WAITING,
  sharedConsumerConfig,
  sharedConsumerName,
} from '../nats/any-consumer.js';

export type { ConsumerSettings };

/**
 * The agent's side: opens the shared consumer, making it when this is the
 * first agent. One request when it exists, so a fleet starting together does
 * not send thousands of creates.
 */
export async function openSharedConsumer(
  js: JetStreamClient,
  jsm: JetStreamManager,
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
    try {
      await jsm.consumers.add(names.stream, sharedConsumerConfig(names, s));
    } catch (addErr) {
      // Another agent made it in between, with other settings: use theirs.
      logger.debug({ consumer: name, err: String(addErr) }, 'the shared consumer exists already');
    }
    consumer = await js.consumers.get(names.stream, name);
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
