// The API server's Prometheus metrics, on a registry of its own (not
// prom-client's global one), so several servers in one process never share
// or collide on a metric. Gauges of jobs and agents are computed when scraped,
// from the same live views the routes read, so they cannot drift from them.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { JobsView } from '../../job/jobs-view.js';
import type { RegistryView } from '../../job/registry-view.js';
import type { AuditDropReason } from '../audit/log.js';
import type { RoundTrip } from '../dispatch.js';

/** Label used for requests that matched no route: one series, however many paths are probed. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface ApiMetrics {
  readonly registry: Registry;
  /** One finished HTTP request; `route` is the route pattern (`/job/:id`), never the raw URL. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** One job round trip through dispatch, from publish to the last answer (or the deadline). */
  observeRoundTrip(rt: RoundTrip): void;
  /** The NATS connection came back after a drop. */
  natsReconnected(): void;
  /** An audit entry was given up on: for the audit log's `onWriteFailure`. */
  auditWriteFailed(): void;
  /** An audit entry was counted, not stored: for the audit log's `onDropped`. */
  auditDropped(reason: AuditDropReason): void;
  /** Where the scrape-time gauges read jobs and agents from. */
  watch(views: { jobs: JobsView; registry: RegistryView }): void;
}

// Buckets from a health probe (ms) to a command near its 300 s ceiling.
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const ROUND_TRIP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let views: { jobs: JobsView; registry: RegistryView } | undefined;

  const requests = new Counter({
    name: 'osapi_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'osapi_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  const roundTrips = new Histogram({
    name: 'osapi_job_round_trip_seconds',
    help: 'Time from publishing a job to its last expected answer (complete="false": the deadline came first).',
    labelNames: ['operation', 'complete'],
    buckets: ROUND_TRIP_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: 'osapi_jobs',
    help: 'Jobs in the job bucket, by operation type and derived status.',
    labelNames: ['operation', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      if (!views) return;
      const { jobs } = views;
      for (const entry of jobs.list()) {
        this.inc({ operation: entry.record.operation.type, status: jobs.statusOf(entry) });
      }
    },
  });
  new Gauge({
    name: 'osapi_agents_ready',
    help: 'Agents whose last heartbeat is younger than the registry TTL.',
    registers: [registry],
    collect() {
      this.set(views ? views.registry.agents().filter((a) => a.ready).length : 0);
    },
  });
  new Gauge({
    name: 'osapi_agents_registered',
    help: 'Agents with an entry in the registry, Ready or not.',
    registers: [registry],
    collect() {
      this.set(views ? views.registry.agents().length : 0);
    },
  });
  const reconnects = new Counter({
    name: 'osapi_nats_reconnects_total',
    help: 'Times the API server reconnected to NATS after losing the connection.',
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'osapi_audit_write_failures_total',
    help: 'Audit entries that could not be written after every retry.',
    registers: [registry],
  });
  const auditDropped = new Counter({
    name: 'osapi_audit_dropped_total',
    help: 'Audit entries counted instead of stored: rate_limited (a source sent more requests without a valid token than api.server.security.audit.unauthenticated_rate allows), queue_full, user_rate_limited (a token subject sent more than api.server.security.audit.user_rate allows: refused with 429 before it ran).',
    labelNames: ['reason'],
    registers: [registry],
  });
  // Every reason shows from the start, at 0, so an alert can tell "none" from "not exported".
  for (const reason of [
    'rate_limited',
    'queue_full',
    'user_rate_limited',
  ] satisfies AuditDropReason[]) {
    auditDropped.inc({ reason }, 0);
  }

  return {
    registry,
    observeRequest(method, route, statusCode, seconds) {
      const labels = { method, route, status_code: String(statusCode) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
    observeRoundTrip(rt) {
      roundTrips.observe({ operation: rt.type, complete: String(rt.complete) }, rt.ms / 1000);
    },
    natsReconnected() {
      reconnects.inc();
    },
    auditWriteFailed() {
      auditFailures.inc();
    },
    auditDropped(reason) {
      auditDropped.inc({ reason });
    },
    watch(v) {
      views = v;
    },
  };
}
