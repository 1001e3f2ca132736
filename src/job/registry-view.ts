// A live view of the agent registry, kept by one follow of its bucket, so
// that deciding which agents a target should reach costs no KV reads per
// request.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.js';
import { hostnameFromRegistryKey, REGISTRY_FILTER } from '../names/names.js';
import type { Clock } from './clock.js';
import { followKv, type KvSource } from './kv-follow.js';
import { type AgentInfoRecord, parseAgentInfo } from './records.js';
import { fingerprintOf } from './result-signing.js';
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
  /** Resolves once the entries the bucket held at the start were read. */
  readonly loaded: Promise<void>;
  /** Since when heartbeats have been heard without a break; null while the follow is cut (kv-follow.ts). */
  readonly followingSince: Date | null;
  stop(): void;
}

/** The order agents are listed in (as String.localeCompare would, without its per-call cost). */
const byName = new Intl.Collator();

export async function watchRegistry(
  registry: KvSource,
  opts: { ttlMs: number; clock: Clock; logger: Logger },
): Promise<RegistryView> {
  const entries = new Map<string, { info: AgentInfoRecord; seenAt: Date }>();
  // Hostnames in order, made again only when an agent comes or goes: at
  // thousands of agents a heartbeat arrives every few milliseconds, and a
  // broadcast must not sort the fleet each time it asks who is there.
  let order: string[] | null = null;
  const changes = new EventEmitter();
  const follow = await followKv(
    registry,
    { keys: REGISTRY_FILTER, from: 'last', logger: opts.logger },
    (e) => {
      const host = hostnameFromRegistryKey(e.key);
      if (!host) return;
      if (e.operation !== 'PUT') {
        if (entries.delete(host)) order = null;
      } else {
        try {
          const info = parseAgentInfo(e.value);
          // An entry is its key's host's: one naming another host is someone
          // writing in another's name, and would be targeted as that host.
          if (info.hostname !== host) {
            opts.logger.warn({ key: e.key }, 'ignoring a registry entry that names another host');
            return;
          }
          // The fingerprint an operator compares is the key's own, never one
          // an entry merely states beside another key.
          if (
            info.public_key !== undefined &&
            info.fingerprint !== fingerprintOf(info.public_key)
          ) {
            opts.logger.warn(
              { key: e.key },
              "ignoring a registry entry whose fingerprint is not its key's",
            );
            return;
          }
          if (!entries.has(host)) order = null;
          entries.set(host, { info, seenAt: e.created });
        } catch (err) {
          opts.logger.warn({ key: e.key, err: String(err) }, 'ignoring an invalid registry entry');
          return;
        }
      }
      changes.emit('change');
    },
  );

  const view: RegistryView = {
    agents() {
      const now = opts.clock.now().getTime();
      order ??= [...entries.keys()].sort(byName.compare);
      const out: AgentView[] = [];
      for (const host of order) {
        const e = entries.get(host);
        if (e) out.push({ ...e, ready: now - e.seenAt.getTime() < opts.ttlMs });
      }
      return out;
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
    loaded: follow.loaded,
    get followingSince() {
      return follow.followingSince;
    },
    stop() {
      follow.stop();
    },
  };
  return view;
}
