// A live view of the agent registry, kept by one KV watch, so that deciding
// which agents a target should reach costs no KV reads per request.
import { EventEmitter } from 'node:events';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../log/logger.js';
import type { Clock } from './clock.js';
import { hostnameFromRegistryKey } from './names.js';
import { type AgentInfoRecord, parseAgentInfo } from './records.js';
import { type Target, targetMatches } from './target.js';

export interface AgentView {
  info: AgentInfoRecord;
  /** When the last heartbeat was stored (server time). */
  seenAt: Date;
  ready: boolean;
}

export interface RegistryView {
  /** Every agent with an entry, Ready or not, sorted by hostname. */
  agents(): AgentView[];
  /** The Ready agents the target addresses, sorted by hostname. */
  matching(target: Target): AgentView[];
  /** Resolves once `predicate` holds for the view (checked on every change). */
  waitFor(predicate: (v: RegistryView) => boolean, timeoutMs: number): Promise<boolean>;
  stop(): void;
}

export async function watchRegistry(
  registry: KV,
  opts: { ttlMs: number; clock: Clock; logger: Logger },
): Promise<RegistryView> {
  const entries = new Map<string, { info: AgentInfoRecord; seenAt: Date }>();
  const changes = new EventEmitter();
  const watch = await registry.watch({ key: 'agents.>' });

  void (async () => {
    for await (const e of watch) {
      const host = hostnameFromRegistryKey(e.key);
      if (!host) continue;
      if (e.operation !== 'PUT') {
        entries.delete(host);
      } else {
        try {
          entries.set(host, { info: parseAgentInfo(e.value), seenAt: e.created });
        } catch (err) {
          opts.logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid registry entry');
          continue;
        }
      }
      changes.emit('change');
    }
  })();

  const view: RegistryView = {
    agents() {
      const now = opts.clock.now().getTime();
      return [...entries.values()]
        .map((e) => ({ ...e, ready: now - e.seenAt.getTime() < opts.ttlMs }))
        .sort((a, b) => a.info.hostname.localeCompare(b.info.hostname));
    },
    matching(target) {
      return view.agents().filter((a) => a.ready && targetMatches(target, a.info));
    },
    async waitFor(predicate, timeoutMs) {
      if (predicate(view)) return true;
      return new Promise<boolean>((resolve) => {
        const onChange = () => {
          if (predicate(view)) done(true);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        const done = (ok: boolean) => {
          clearTimeout(timer);
          changes.off('change', onChange);
          resolve(ok);
        };
        changes.on('change', onChange);
      });
    },
    stop() {
      watch.stop();
    },
  };
  return view;
}
