// Small helpers shared by the API and agent tests: bounded polling, temp dirs,
// process liveness, and a job store on the test system's NATS.

import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import { systemClock } from '../../src/job/clock.js';
import { type AgentInfoRecord, parseAgentInfo } from '../../src/job/records.js';
import { fingerprintOf } from '../../src/job/result-signing.js';
import { loadOrCreateSigningKeys, newEd25519Key, rawPublicKey } from '../../src/job/signing.js';
import {
  type JobStore,
  openJobStore,
  publishJob,
  readEnrollment,
  saveEnrollment,
  storeResponse,
} from '../../src/job/store.js';
import { infraNames, registryKey } from '../../src/names/names.js';
import type { NatsConnection } from '../../src/nats/connection.js';
import { jobSigningKeyPath } from '../../src/state/local.js';
import { bucketsOf } from '../support/buckets.js';
import type { AnyJson, TestSystem } from '../support/system.js';

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws at `withinMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  withinMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const until = Date.now() + withinMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface TempDir {
  path: string;
  remove(): void;
}

/** A fresh directory under os.tmpdir(), its real path (no symlinks), removed by `remove()`. */
export function tempDir(prefix: string): TempDir {
  const path = realpathSync(mkdtempSync(join(tmpdir(), `osapi-${prefix}-`)));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** True when no such process exists, or it is a zombie (dead, waiting to be reaped). */
export function isDead(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // The state follows the command name in parentheses, which may itself hold spaces.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/** The test system's buckets, opened on a given connection (the API's by default). */
export function storeFor(sys: TestSystem, nc: NatsConnection = sys.api.nc): Promise<JobStore> {
  const names = infraNames({ ...sys.config.nats, namespace: sys.config.agent.nats.namespace });
  // Signed like the API's own jobs (agents run nothing else), and its results
  // like the results the API records itself (it believes nothing else).
  const apiKey = loadOrCreateSigningKeys(jobSigningKeyPath(sys.config.state_dir));
  return openJobStore(nc, names, systemClock, sys.api.signer, {
    signer: { key: apiKey, as: 'api' },
  });
}

/** Every key of a KV bucket matching `filter`. */
export async function kvKeys(bucket: KV, filter: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await bucket.keys(filter)) out.push(k);
  return out;
}

/**
 * Every host with a result in a GET /job/{id} body has its closing event in
 * the timeline too. A result ends its host (and can make the job final) as
 * soon as it is stored; the agent writes the closing event just after it.
 */
export function resultsClosed(job: {
  responses: Record<string, unknown>;
  timeline: Array<{ event: string; hostname?: string }>;
}): boolean {
  return Object.keys(job.responses).every((host) =>
    job.timeline.some(
      (e) => e.hostname === host && (e.event === 'completed' || e.event === 'failed'),
    ),
  );
}

/** A new Ed25519 public key, raw (32 bytes), as an agent presents one (see newEd25519Key). */
export function newAgentPublicKey(): Buffer {
  return rawPublicKey(createPublicKey(newEd25519Key()));
}

/**
 * Writes a registry entry as an agent's heartbeat would, for a host no
 * running agent has: Ready until the registry TTL passes, then what a dead
 * agent leaves behind.
 */
export async function plantAgent(
  store: JobStore,
  hostname: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const now = new Date().toISOString();
  // A key of its own, accepted, as an enrolled agent has.
  const raw = newAgentPublicKey().toString('base64');
  const fingerprint = fingerprintOf(raw);
  const decided = await readEnrollment(store, hostname);
  await saveEnrollment(
    store,
    {
      hostname,
      status: 'accepted',
      public_key: raw,
      fingerprint,
      machine_id: '',
      decided_at: now,
      decided_by: 'test',
    },
    decided?.revision ?? 0,
  );
  const entry = registryEntry(hostname, labels, { public_key: raw, fingerprint });
  await (await bucketsOf(store)).registry.put(registryKey(hostname), entry);
}

/** A registry entry (an agent's heartbeat) as the API reads one, checked as it would be. */
export function registryEntry(
  hostname: string,
  labels: Record<string, string> = {},
  key: Pick<AgentInfoRecord, 'public_key' | 'fingerprint'> = {},
): string {
  const now = new Date().toISOString();
  const entry = JSON.stringify({
    hostname,
    labels,
    ...key,
    started_at: now,
    registered_at: now,
    version: '0.1.0',
    os_info: { distribution: 'debian', version: '12' },
    uptime: '1h0m0s',
    load_average: { '1min': 0, '5min': 0, '15min': 0 },
    memory: { total: 1024, free: 512, used: 512 },
    max_jobs: 1,
  } satisfies AgentInfoRecord);
  parseAgentInfo(entry); // the API would ignore an invalid entry
  return entry;
}

/** A broadcast query (`node.hostname.get`) to `hosts`, published as the API publishes one. */
export function publishBroadcastQuery(store: JobStore, hosts: string[]) {
  return publishJob(store, {
    type: 'node.hostname.get',
    data: {},
    target: { kind: 'all' },
    createdBy: 'test',
    startWithinMs: 60_000,
    expectedHosts: hosts,
  });
}

/**
 * A broadcast query (`node.hostname.get`) answered by each of `hosts`, as
 * their agents would store the results (failed with `error` where given).
 * Returns the job's id.
 */
export async function answeredQuery(
  store: JobStore,
  hosts: Array<{ host: string; error?: string }>,
): Promise<string> {
  const job = await publishBroadcastQuery(
    store,
    hosts.map((h) => h.host),
  );
  const now = systemClock.now().toISOString();
  for (const h of hosts) {
    await storeResponse(store, {
      job_id: job.id,
      hostname: h.host,
      status: h.error ? 'failed' : 'completed',
      data: h.error ? null : { labels: {}, os_hostname: h.host },
      ...(h.error ? { error: h.error } : {}),
      started_at: now,
      finished_at: now,
    });
  }
  return job.id;
}

/** An answer's items in hostname order, so a test reads them the same whichever answered first. */
export function byHost(results: readonly AnyJson[]): AnyJson[] {
  return [...results].sort((a, b) => a.hostname.localeCompare(b.hostname));
}
