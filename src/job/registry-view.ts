// A live view of the agent registry, kept by one follow of its bucket, so
// that deciding which agents a target should reach costs no KV reads per
// request.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.js';
import { hostnameFromRegistryKey, REGISTRY_FILTER } from '../names/names.js';
import type { Clock } from './clock.js';
import { heartbeatInterval } from './heartbeat.js';
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
  /**
   * Every agent's last stored entry, in no order and not told Ready or not:
   * for a scan that needs neither, made often (enrollment.ts looks for keys
   * not decided yet four times a second), where a view per agent would be
   * built for each look.
   */
  stored(): Iterable<AgentInfoRecord>;
  /** Resolves once `predicate` holds for the view (checked on every change). */
  waitFor(predicate: (v: RegistryView) => boolean, timeoutMs: number): Promise<boolean>;
  /** Resolves once the entries the bucket held at the start were read. */
  readonly loaded: Promise<void>;
  /** Since when heartbeats have been heard without a break; null while the follow is cut (kv-follow.ts). */
  readonly followingSince: Date | null;
  stop(): void;
}

/**
 * The order agents are listed in (as String.localeCompare would, without its
 * per-call cost). Made at the first listing, not at load: a collator costs a
 * process about 3 MB of ICU data, which one that never lists (an agent) should
 * not pay for.
 */
let collator: Intl.Collator | undefined;
function byName(): Intl.Collator {
  if (!collator) collator = new Intl.Collator();
  return collator;
}

/** An agent's last heartbeat as stored. */
type StoredEntry = Omit<AgentView, 'ready'>;

/** A time the registry stored nothing though the fleet's beats should have kept coming. */
interface Stall {
  start: number;
  end: number;
}

/** Shortest silence taken for a stall, however large the fleet. */
const STALL_MIN_MS = 3_000;
/** A silence is a stall past this many times the fleet's usual gap between two beats. */
const STALL_GAPS = 10;
/** Timers and the trip to the server: how far a beat may land from when it was due. */
const BEAT_SLACK_MS = 1_000;

/**
 * Whether an agent last seen at `seenAt` is Ready at `now`. Within the TTL
 * it is. A beat published while the registry's stream had no leader (a NATS
 * node lost, an election) is lost without a word, since most beats are not
 * acknowledged (agent/registry.ts); so an agent whose next beat fell due
 * during a stall of the registry, over or still going on, is not held to it:
 * it has one interval more, its next beat's. A large fleet that all died at
 * once therefore shows NotReady one interval later than the TTL.
 */
export function isReady(
  seenAt: number,
  now: number,
  ttlMs: number,
  stalls: readonly Stall[],
): boolean {
  const age = now - seenAt;
  if (age < ttlMs) return true;
  const interval = heartbeatInterval(ttlMs);
  if (age >= ttlMs + interval) return false;
  const due = seenAt + interval;
  return stalls.some((s) => due >= s.start - BEAT_SLACK_MS && due <= s.end + BEAT_SLACK_MS);
}

export async function watchRegistry(
  registry: KvSource,
  opts: { ttlMs: number; clock: Clock; logger: Logger },
): Promise<RegistryView> {
  const entries = new Map<string, StoredEntry>();
  // Hostnames in order, made again only when an agent comes or goes: at
  // thousands of agents a heartbeat arrives every few milliseconds, and a
  // broadcast must not sort the fleet each time it asks who is there.
  let order: string[] | null = null;
  const changes = new EventEmitter();
  // Stalls are told by the gaps between stored beats, once the view has
  // loaded: the last value of each key, read at the start, has gaps of its own.
  let loaded = false;
  let lastStoredAt: number | null = null;
  let stalls: Stall[] = [];
  const stallAfter = () =>
    Math.max(
      STALL_MIN_MS,
      (STALL_GAPS * heartbeatInterval(opts.ttlMs)) / Math.max(1, entries.size),
    );
  /** The stalls an agent may be Ready by at `now`: the past ones, and a silence going on. */
  const stallsAt = (now: number): Stall[] =>
    loaded && lastStoredAt !== null && now - lastStoredAt > stallAfter()
      ? [...stalls, { start: lastStoredAt, end: now }]
      : stalls;
  const noteStored = (at: number) => {
    if (loaded && lastStoredAt !== null) {
      if (at - lastStoredAt > stallAfter()) {
        // Kept while an agent could still be Ready by it.
        const keepFrom = at - 2 * (opts.ttlMs + heartbeatInterval(opts.ttlMs));
        stalls = [...stalls.filter((x) => x.end >= keepFrom), { start: lastStoredAt, end: at }];
      }
    }
    if (lastStoredAt === null || at > lastStoredAt) lastStoredAt = at;
  };
  const follow = await followKv(
    registry,
    { keys: REGISTRY_FILTER, from: 'last', logger: opts.logger },
    (e) => {
      noteStored(e.created.getTime());
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
          // an entry merely states beside another key. Worked out again only
          // when key or fingerprint changed: a beat repeats the last one's.
          const before = entries.get(host)?.info;
          const checked =
            before?.public_key === info.public_key && before?.fingerprint === info.fingerprint;
          if (
            !checked &&
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

  void follow.loaded.then(() => {
    loaded = true;
  });
  const viewOf = (e: StoredEntry, now: number, current: Stall[]): AgentView => ({
    ...e,
    ready: isReady(e.seenAt.getTime(), now, opts.ttlMs, current),
  });
  const view: RegistryView = {
    agents() {
      const now = opts.clock.now().getTime();
      const current = stallsAt(now);
      order ??= [...entries.keys()].sort(byName().compare);
      const out: AgentView[] = [];
      for (const host of order) {
        const e = entries.get(host);
        if (e) out.push(viewOf(e, now, current));
      }
      return out;
    },
    *stored() {
      for (const e of entries.values()) yield e.info;
    },
    matching(target) {
      if (target.kind === 'host') {
        // One entry, by its key: a request to one host of thousands must not
        // look at every agent.
        const e = entries.get(target.hostname);
        if (!e) return [];
        const now = opts.clock.now().getTime();
        const a = viewOf(e, now, stallsAt(now));
        return a.ready && targetMatches(target, a.info) ? [a] : [];
      }
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
