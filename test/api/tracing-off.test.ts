// Tracing off: the settings the OTEL_* variables give (here an endpoint, with
// the SDK disabled) start nothing, nothing is exported, no trace context goes
// out with a job; a client's traceparent still gives the audit entry its
// trace id.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { type ProxyTracerProvider, trace } from '@opentelemetry/api';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTracing,
  stopTracing,
  type TracingSettings,
  tracingOn,
  tracingSettingsFromEnv,
} from '../../src/trace/tracing.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, waitFor } from './helpers.js';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const HOSTS = [`untraced-a-${hex(3)}`, `untraced-b-${hex(3)}`].sort();

let sys: TestSystem;
let receiver: OtlpReceiver;
let admin: string;
let settings: TracingSettings | null;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // As `osapi start` and `osapi api server start` decide: an endpoint is set,
  // but OTEL_SDK_DISABLED turns tracing off, so nothing may reach it.
  settings = tracingSettingsFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SDK_DISABLED: 'true',
  });
  if (settings) await startTracing(settings);
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(JSON.parse(chunk.toString('utf8')));
        done();
      },
    }),
  );
  sys = await startTestSystem({ logger });
  for (const h of HOSTS) await sys.startAgent(h);
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
  await stopTracing();
  await receiver?.stop();
});

describe('tracing off (the default)', () => {
  it('sends nothing, starts no SDK, adds no header, and still records the client trace id', async () => {
    const traceId = hex(16);
    const r = await request(
      sys,
      'POST',
      '/node/_all/command/exec',
      { command: 'echo', args: ['untraced'] },
      admin,
      { traceparent: `00-${traceId}-${hex(8)}-01` },
    );
    expect(r.status).toBe(202);

    const entry = await waitFor('the audit entry', async () => {
      const a = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
      return a.body.items?.find((e: { trace_id?: string }) => e.trace_id === traceId);
    });
    expect(entry.path).toBe('/node/_all/command/exec');
    // The request's log lines carry it too: its completion's at least.
    const completed = logLines.find((l) => l.trace_id === traceId && l.msg === 'request completed');
    expect(completed).toBeDefined();

    expect(settings).toBeNull();
    expect(tracingOn()).toBe(false);
    // The API's global provider has no SDK behind it: every span is a no-op.
    const provider = trace.getTracerProvider() as ProxyTracerProvider;
    expect(provider.getDelegate().constructor.name).toBe('NoopTracerProvider');

    // The notification carries no trace context.
    const store = await storeFor(sys);
    const jsm = await jetstreamManager(sys.api.nc);
    const info = await jsm.streams.info(store.names.stream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(store.names.stream, { seq }).catch(() => null);
      expect(m?.header?.get('traceparent') ?? '').toBe('');
    }
    expect(receiver.requests).toBe(0);
    expect(receiver.spans).toEqual([]);
  });

  it('ignores a traceparent that is not valid', async () => {
    const r = await request(
      sys,
      'POST',
      `/node/${HOSTS[0]}/command/exec`,
      { command: 'echo', args: ['bad-parent'] },
      admin,
      { traceparent: `00-${'0'.repeat(32)}-${hex(8)}-01` },
    );
    expect(r.status).toBe(202);
    const entry = await waitFor('the audit entry', async () => {
      const a = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
      return a.body.items?.find((e: { path: string }) =>
        e.path.endsWith(`/node/${HOSTS[0]}/command/exec`),
      );
    });
    expect(entry.trace_id).toBeUndefined();
  });
});
