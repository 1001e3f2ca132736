// Traces across a job's hops, exported to an OTLP/HTTP receiver in this
// process: the API request, the publish, each agent's receive, run and store,
// and the collection, in one trace.
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess } from '../../src/agent/start.js';
import { systemClock } from '../../src/job/clock.js';
import {
  flushTracing,
  startTracing,
  stopTracing,
  tracingSettingsFromEnv,
} from '../../src/trace/tracing.js';
import { silentLogger } from '../support/nats.js';
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from '../support/otlp-receiver.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { storeFor, waitFor } from './helpers.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const HOSTS = [`trace-a-${hex(3)}`, `trace-b-${hex(3)}`, `trace-c-${hex(3)}`].sort();

let sys: TestSystem;
let receiver: OtlpReceiver;
let admin: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  await startTracing({ url: receiver.url, serviceName: 'osapi-test' });
  // Missed jobs are read back at once after a reconnect, not after the fleet-sized jitter.
  sys = await startTestSystem({ overrides: { 'agent.listen.jitter': '50ms' } });
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
  await stopTracing();
  await receiver?.stop();
});

async function auditEntryOf(jobPathPart: string, traceId: string) {
  return waitFor('the audit entry with the trace id', async () => {
    const r = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
    return r.body.items?.find(
      (e: { path: string; trace_id?: string }) =>
        e.path.includes(jobPathPart) && e.trace_id === traceId,
    );
  });
}

/** The spans of one trace, once `ready` says they are all there. */
async function traceOf(traceId: string, ready: (spans: ReceivedSpan[]) => boolean) {
  return waitFor(`the spans of trace ${traceId}`, async () => {
    await flushTracing();
    const spans = receiver.spans.filter((s) => s.traceId === traceId);
    return ready(spans) ? spans : undefined;
  });
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name);

describe('traces', () => {
  it('a broadcast to three agents is one trace under the client traceparent', async () => {
    const traceId = hex(16);
    const clientSpan = hex(8);
    const r = await request(
      sys,
      'POST',
      '/node/_all/command/exec',
      { command: 'echo', args: ['traced'] },
      admin,
      { traceparent: `00-${traceId}-${clientSpan}-01` },
    );
    expect(r.status).toBe(202);
    const jobId = r.body.job_id;
    expect(jobId).toEqual(expect.any(String));

    // Every span of the trace, the request's too (it ends after the answer is sent).
    const spans = await traceOf(
      traceId,
      (s) =>
        named(s, 'job.store').length === 3 &&
        named(s, 'job.receive').length === 3 &&
        named(s, 'job.publish').length === 1 &&
        named(s, 'job.collect').length === 1 &&
        named(s, 'POST /node/{hostname}/command/exec').length === 1,
    );
    const [root] = named(spans, 'POST /node/{hostname}/command/exec');
    expect(root).toBeDefined();
    if (!root) return;
    expect(root.parentSpanId).toBe(clientSpan);
    expect(root.serviceName).toBe('osapi-test');
    expect(root.attributes['osapi.job.operation']).toBe('command.exec.execute');
    expect(root.attributes['http.response.status_code']).toBe(202);

    const [publish] = named(spans, 'job.publish');
    const [collect] = named(spans, 'job.collect');
    expect(publish?.parentSpanId).toBe(root.spanId);
    expect(collect?.parentSpanId).toBe(root.spanId);
    const id = publish?.attributes['osapi.job.id'];
    expect(typeof id).toBe('string');
    expect(id).toBe(jobId);
    expect(collect?.attributes['osapi.job.answered']).toEqual(HOSTS);

    const receives = named(spans, 'job.receive');
    expect(receives.map((s) => s.attributes['osapi.hostname']).sort()).toEqual(HOSTS);
    for (const receive of receives) {
      expect(receive.parentSpanId).toBe(publish?.spanId);
      expect(receive.attributes['osapi.job.id']).toBe(id);
      expect(receive.attributes['osapi.job.operation']).toBe('command.exec.execute');
      const host = receive.attributes['osapi.hostname'];
      for (const name of ['job.run', 'job.store']) {
        const [child] = named(spans, name).filter((s) => s.parentSpanId === receive.spanId);
        expect(child, `${name} of ${host}`).toBeDefined();
        expect(child?.attributes['osapi.hostname']).toBe(host);
        expect(child?.attributes['osapi.job.id']).toBe(id);
      }
    }

    const entry = await auditEntryOf('/node/_all/command/exec', traceId);
    expect(entry.trace_id).toBe(traceId);
  });

  it('the notification stored in the stream carries the trace context (the catch-up path)', async () => {
    const traceId = hex(16);
    const r = await request(
      sys,
      'POST',
      `/node/${HOSTS[0]}/command/exec`,
      { command: 'echo', args: ['stored'] },
      admin,
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    expect(r.status).toBe(202);
    const store = await storeFor(sys);
    const jsm = await jetstreamManager(sys.api.nc);
    const info = await jsm.streams.info(store.names.stream);
    let carried: string | undefined;
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && !carried; seq--) {
      const m = await jsm.streams.getMessage(store.names.stream, { seq }).catch(() => null);
      const tp = m?.header?.get('traceparent');
      if (tp?.startsWith(`00-${traceId}-`)) carried = tp;
    }
    expect(carried).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  it('an agent cut off during the broadcast continues the trace when it catches up', async () => {
    const away = `trace-away-${hex(3)}`;
    const proxy = await startTcpProxy(sys.nats.port);
    const agent = await startAgentProcess({
      config: { ...sys.config, agent: { ...sys.config.agent, hostname: away, labels: {} } },
      logger: silentLogger,
      clock: systemClock,
      natsServers: [proxy.url],
    });
    try {
      await sys.waitForAgents([...HOSTS, away]);
      proxy.cut();
      const traceId = hex(16);
      const r = await request(
        sys,
        'POST',
        '/node/_all/command/exec?async=true',
        { command: 'echo', args: ['caught-up'] },
        admin,
        { traceparent: `00-${traceId}-${hex(8)}-01` },
      );
      expect(r.status).toBe(202);
      expect(r.body.expected_hosts).toContain(away);
      await traceOf(traceId, (s) => named(s, 'job.store').length === 3);
      proxy.restore();
      // A run's store span ends (and is sent) before the receive span around it does.
      const spans = await traceOf(
        traceId,
        (s) =>
          named(s, 'job.store').length === 4 &&
          named(s, 'job.publish').length === 1 &&
          named(s, 'job.receive').some((x) => x.attributes['osapi.hostname'] === away),
      );
      const [publish] = named(spans, 'job.publish');
      const receive = named(spans, 'job.receive').find(
        (s) => s.attributes['osapi.hostname'] === away,
      );
      expect(receive?.parentSpanId).toBe(publish?.spanId);
      const store = named(spans, 'job.store').find((s) => s.attributes['osapi.hostname'] === away);
      expect(store?.parentSpanId).toBe(receive?.spanId);
    } finally {
      await agent.stop();
      await proxy.close();
    }
  });

  it('a request without a traceparent starts a new trace, recorded in its audit entry', async () => {
    const r = await request(
      sys,
      'POST',
      `/node/${HOSTS[1]}/command/exec`,
      { command: 'echo', args: ['fresh'] },
      admin,
    );
    expect(r.status).toBe(202);
    const root = await waitFor('the request span', async () => {
      await flushTracing();
      return receiver.spans.find(
        (s) =>
          s.name === 'POST /node/{hostname}/command/exec' &&
          s.parentSpanId === '' &&
          s.attributes['url.path'] === `/node/${HOSTS[1]}/command/exec`,
      );
    });
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    await auditEntryOf(`/node/${HOSTS[1]}/command/exec`, root.traceId);
  });
});

describe('tracing settings from the OTEL_* variables', () => {
  it('is off without an endpoint, when disabled, or with no otlp exporter', () => {
    expect(tracingSettingsFromEnv({})).toBeNull();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' };
    expect(tracingSettingsFromEnv({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(tracingSettingsFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('reads the endpoint, the service name and the headers', () => {
    expect(
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
        OTEL_SERVICE_NAME: 'osapi-api',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20x,x-team=ops',
      }),
    ).toEqual({
      url: 'http://collector:4318/v1/traces',
      serviceName: 'osapi-api',
      headers: { authorization: 'Bearer x', 'x-team': 'ops' },
    });
    expect(
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom',
      }),
    ).toEqual({ url: 'http://collector:4318/custom', serviceName: 'osapi' });
  });

  it('refuses a protocol the exporter does not speak, saying what to set', () => {
    expect(() =>
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc',
      }),
    ).toThrow(/http\/json/);
  });
});
