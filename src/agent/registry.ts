// The agent's heartbeat in the agent-registry bucket: who it is, its labels
// and its host's vitals, refreshed on an interval shorter than the bucket's
// TTL, and removed on a clean stop.
import os from 'node:os';
import type { AgentState, TimelineEvent } from '../contract/agent.js';
import type { NodeCondition } from '../contract/conditions.js';
import type { Clock } from '../job/clock.js';
import type { AgentInfoRecord } from '../job/records.js';
import { type JobStore, putAgentInfo, removeAgentInfo } from '../job/store.js';
import type { Logger } from '../log/logger.js';
import type { OutageLog } from '../log/outage-log.js';
import { VERSION } from '../version.js';
import { valueWithin, waitAtMost } from '../wait-at-most.js';
import { type ConditionThresholds, ConditionTracker } from './conditions.js';
import { readDisks } from './handlers/disk.js';
import { readSystemInfo } from './system-info.js';

export interface HeartbeatOptions {
  store: JobStore;
  hostname: string;
  labels: Record<string, string>;
  maxJobs: number;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  /** Where a failed beat is told, once per NATS outage; else each is a warning. */
  outage?: OutageLog;
  /** Conditions evaluated on each beat and sent with it (agent.conditions). */
  conditions?: {
    thresholds: ConditionThresholds;
    /** Told of every evaluation (the agent's metrics). */
    observe?: (conditions: NodeCondition[]) => void;
    /** Told of each condition whose status changed (the agent's timeline). */
    onChange?: (condition: NodeCondition) => void;
  };
  /** Reads the host's disks for the conditions (tests: a slow or hung read); readDisks by default. */
  readDisks?: typeof readDisks;
  /** The agent's state, own timeline and key, sent with each beat. */
  self?: () => {
    state: AgentState;
    timeline: TimelineEvent[];
    public_key: string;
    fingerprint: string;
    machine_id: string;
    renamed_from?: { hostname: string; job_id: string };
  };
}

export interface Heartbeat {
  /**
   * Beats now, out of turn (the agent's state changed, its connection came
   * back), acknowledged, and again every few seconds until one is stored or
   * the next regular beat is due: a beat sent into an election is lost.
   */
  beatNow(): void;
  /** Deletes the entry so the API stops expecting answers from this agent. */
  stop(): Promise<void>;
}

const ACKED_EVERY = 2;
/** Between tries of an out-of-turn beat that was not stored. */
const OUT_OF_TURN_RETRY_MS = 2_000;

/** Most time the disks are looked at for a beat: a hung mount must not stop heartbeats. */
const DISKS_WITHIN_MS = 2_000;

export async function startHeartbeat(opts: HeartbeatOptions): Promise<Heartbeat> {
  const startedAt = opts.clock.now().toISOString();
  const tracker = opts.conditions ? new ConditionTracker(opts.conditions.thresholds) : null;
  let lastDisks: Awaited<ReturnType<typeof readDisks>> = [];
  const log = opts.logger;
  const entry = async (): Promise<string> => {
    const system = readSystemInfo();
    const conditions = tracker ? await evaluate(tracker, system) : undefined;
    if (conditions) opts.conditions?.observe?.(conditions);
    return JSON.stringify({
      hostname: opts.hostname,
      labels: opts.labels,
      started_at: startedAt,
      registered_at: opts.clock.now().toISOString(),
      version: VERSION,
      max_jobs: opts.maxJobs,
      ...system,
      ...(conditions ? { conditions } : {}),
      ...(opts.self ? opts.self() : {}),
    } satisfies AgentInfoRecord);
  };
  // The disks are read beside the beats, at most one read at a time: a beat
  // sends what the last read found and starts the next. Waiting for the read
  // delayed every beat by as long as the host's file system calls took (up
  // to 2.8 s seen on a loaded machine), and a live agent whose beat came that
  // late was taken for gone; and a hung mount added a stuck read at each beat.
  // readDisks leaves out read-only images (always full, never under
  // pressure); a read that fails leaves the last one's disks.
  let diskRead: Promise<void> | null = null;
  const readDisksNow = (): Promise<void> => {
    diskRead ??= (opts.readDisks ?? readDisks)()
      .then(
        (d) => {
          lastDisks = d;
        },
        () => {},
      )
      .finally(() => {
        diskRead = null;
      });
    return diskRead;
  };
  let disksRead = false;
  const evaluate = async (t: ConditionTracker, system: ReturnType<typeof readSystemInfo>) => {
    if (disksRead) {
      void readDisksNow();
    } else {
      // The first beat waits for them, a little: its conditions include the disks.
      await valueWithin(readDisksNow(), DISKS_WITHIN_MS);
      disksRead = true;
    }
    const disks = lastDisks;
    return t.update(
      {
        memory: system.memory,
        disks,
        load1: system.load_average['1min'],
        cpus: os.availableParallelism(),
      },
      opts.clock.now(),
      (c) => {
        log.info(
          { condition: c.type, status: c.status, reason: c.reason },
          c.status ? `condition ${c.type} holds` : `condition ${c.type} cleared`,
        );
        opts.conditions?.onChange?.(c);
      },
    );
  };
  let stopped = false;
  /** Beats under way: a stop waits for them, so none lands after the entry is removed. */
  const inFlight = new Set<Promise<void>>();
  const beat = (acknowledged: boolean): Promise<void> => {
    const p = (async () => {
      const value = await entry();
      if (stopped) return;
      await putAgentInfo(opts.store, opts.hostname, value, { acknowledged });
    })();
    inFlight.add(p);
    void p.catch(() => {}).finally(() => inFlight.delete(p));
    return p;
  };
  await beat(true);
  // Only one beat in ACKED_EVERY waits for the server's acknowledgment: a
  // plain publish is lost only with the connection itself, and the
  // acknowledged ones still say, every other beat, when the registry refuses
  // them. At thousands of agents the acknowledgments are a good part of
  // what an idle fleet costs the server.
  let beats = 0;
  /** Tells the outage log (or the log) how a beat went; resolves whether it was stored. */
  const report = (p: Promise<void>): Promise<boolean> =>
    p.then(
      () => {
        opts.outage?.worked();
        return true;
      },
      (err: unknown) => {
        if (opts.outage) opts.outage.failed('heartbeat failed', err);
        else
          opts.logger.warn(
            { err: String(err) },
            'heartbeat failed; will retry at the next interval',
          );
        return false;
      },
    );
  const beatLogged = () => {
    beats++;
    void report(beat(beats % ACKED_EVERY === 0));
  };
  // Agents started together would otherwise beat together for ever: the
  // first interval is shortened at random, so that a fleet's heartbeats
  // spread evenly over the interval instead of arriving in one burst.
  let timer: NodeJS.Timeout = setTimeout(
    () => {
      void beatLogged();
      timer = setInterval(beatLogged, opts.intervalMs);
      timer.unref();
    },
    opts.intervalMs * (0.1 + 0.9 * Math.random()),
  );
  timer.unref();
  /** An out-of-turn beat is trying (in flight or waiting to try again): another call joins it. */
  let retrying = false;
  let retryTimer: NodeJS.Timeout | null = null;
  const beatUntilStored = (triesLeft: number) => {
    retryTimer = null;
    if (stopped) {
      retrying = false;
      return;
    }
    report(beat(true)).then((stored) => {
      if (stored || triesLeft <= 1 || stopped) {
        retrying = false;
        return;
      }
      retryTimer = setTimeout(() => beatUntilStored(triesLeft - 1), OUT_OF_TURN_RETRY_MS);
      retryTimer.unref();
    });
  };
  return {
    beatNow: () => {
      if (stopped || retrying) return;
      retrying = true;
      beatUntilStored(Math.max(1, Math.floor(opts.intervalMs / OUT_OF_TURN_RETRY_MS)));
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (retryTimer) clearTimeout(retryTimer);
      clearInterval(timer);
      // A beat already on its way is let land first, then the entry removed.
      await waitAtMost(Promise.allSettled([...inFlight]), 1000);
      try {
        // Bounded: with NATS gone, the entry expires by its TTL anyway.
        const deleted = removeAgentInfo(opts.store, opts.hostname);
        if (!(await waitAtMost(deleted, 1000))) throw new Error('timed out');
      } catch (err) {
        opts.logger.warn({ err: String(err) }, 'could not remove the registry entry');
      }
    },
  };
}
