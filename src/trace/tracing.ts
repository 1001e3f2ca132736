// Traces across the hops of a request (docs/tracing.md): the API request, the
// job's publish, each agent's receive, run and store, and the API's
// collection of the answers. Off unless an OTLP endpoint is configured (the
// standard OTEL_* variables): then the spans below come from @opentelemetry/api's
// no-op tracer, and the SDK and the exporter are never loaded. On, the SDK is
// imported here, once, and registered for the whole process (the API and an
// agent sharing one process share it).
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';

/** Where spans go when tracing is on. */
export interface TracingSettings {
  /** The OTLP/HTTP traces URL, `/v1/traces` included. */
  url: string;
  serviceName: string;
  /** Extra headers for the collector (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Record<string, string>;
}

/** The names the spans and their attributes use, in one place. */
export const SPAN = {
  publish: 'job.publish',
  receive: 'job.receive',
  run: 'job.run',
  store: 'job.store',
  collect: 'job.collect',
} as const;

export const ATTR = {
  jobId: 'osapi.job.id',
  operation: 'osapi.job.operation',
  target: 'osapi.job.target',
  hostname: 'osapi.hostname',
  status: 'osapi.job.status',
  answered: 'osapi.job.answered',
  missing: 'osapi.job.missing',
} as const;

interface Running {
  shutdown(): Promise<void>;
  forceFlush(): Promise<void>;
}

let running: Running | null = null;

const DEFAULT_SERVICE_NAME = 'osapi';

/**
 * The settings the standard OTEL_* variables ask for, or null: tracing is off
 * when no endpoint is set, when OTEL_SDK_DISABLED is true, and when
 * OTEL_TRACES_EXPORTER names no `otlp` exporter (`none`). Throws a sentence
 * for a protocol this exporter cannot speak.
 */
export function tracingSettingsFromEnv(env: NodeJS.ProcessEnv): TracingSettings | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'otlp')
    .split(',')
    .map((e) => e.trim().toLowerCase());
  if (!exporters.includes('otlp')) return null;
  const url = tracesUrl(env);
  if (!url) return null;
  const protocol = (
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ??
    env.OTEL_EXPORTER_OTLP_PROTOCOL ??
    'http/json'
  ).trim();
  if (protocol !== 'http/json') {
    throw new Error(
      `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) is ${protocol}, but osapi exports traces as OTLP/HTTP with JSON only; set it to http/json or unset it`,
    );
  }
  const headers = parseHeaders(
    env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS,
  );
  return {
    url,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || DEFAULT_SERVICE_NAME,
    ...(headers ? { headers } : {}),
  };
}

/** The signal-specific endpoint is used as it is; the general one gets `/v1/traces` appended. */
function tracesUrl(env: NodeJS.ProcessEnv): string | null {
  const own = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (own) return own;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return null;
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

/** `key1=value1,key2=value2`, values URL-encoded, as the OTLP exporter specification says. */
function parseHeaders(raw: string | undefined): Record<string, string> | undefined {
  if (!raw?.trim()) return undefined;
  const out: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    out[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

/**
 * A CommonJS package's exports, imported dynamically: Node names them on the
 * module, a bundle (the single executable's) may only give `default`.
 */
function exportsOf<T extends object>(mod: T): T {
  const inner = (mod as { default?: unknown }).default;
  return Object.keys(mod).length <= 1 && inner && typeof inner === 'object' ? (inner as T) : mod;
}

/**
 * Loads the SDK and exports spans to `settings.url` from now on. A second
 * call while tracing runs changes nothing. The SDK is imported here only, so
 * a process that never calls this never loads it.
 */
export async function startTracing(settings: TracingSettings): Promise<void> {
  if (running) return;
  const [sdk, otlp, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node').then(exportsOf),
    import('@opentelemetry/exporter-trace-otlp-http').then(exportsOf),
    import('@opentelemetry/resources').then(exportsOf),
  ]);
  const { NodeTracerProvider, BatchSpanProcessor } = sdk;
  const { OTLPTraceExporter } = otlp;
  const { resourceFromAttributes } = resources;
  const exporter = new OTLPTraceExporter({
    url: settings.url,
    ...(settings.headers ? { headers: settings.headers } : {}),
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Registers the W3C trace context propagator and an async-local context
  // manager too: a span started inside context.with() finds its parent.
  provider.register();
  running = provider;
}

/** Sends what is buffered, then stops: spans are no-ops again (tests, and a stopping process). */
export async function stopTracing(): Promise<void> {
  const was = running;
  if (!was) return;
  running = null;
  try {
    await was.forceFlush();
    await was.shutdown();
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
}

/** Sends the spans ended so far (tests wait for them). */
export async function flushTracing(): Promise<void> {
  await running?.forceFlush();
}

/** Whether spans are exported now. */
export function tracingOn(): boolean {
  return running !== null;
}

const tracer = () => trace.getTracer('osapi');

/** Starts a span under `parent` (the active context when not given). */
export function startSpan(
  name: string,
  attributes: Attributes,
  opts: { parent?: Context; kind?: SpanKind } = {},
): Span {
  return tracer().startSpan(
    name,
    { attributes, kind: opts.kind ?? SpanKind.INTERNAL },
    opts.parent ?? context.active(),
  );
}

/** Runs `fn` with `span` active, so the spans it starts are its children, and ends it. */
async function inSpan<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    span.recordException(err instanceof Error ? err : String(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** Starts a span named `name` under the active one and runs `fn` inside it. */
export function traced<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!running) return fn();
  return inSpan(startSpan(name, attributes), fn);
}

/**
 * As traced, under the context a message's headers carry (a job
 * notification's `traceparent`) rather than the active one: a new trace when
 * they carry none.
 */
export function tracedFrom<T>(
  h: HeaderSource | undefined,
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  if (!running) return fn();
  const span = startSpan(name, attributes, {
    parent: contextFromHeaders(h),
    kind: SpanKind.CONSUMER,
  });
  return inSpan(span, fn);
}

/** The trace context of the active span as headers (`traceparent`), none when tracing is off. */
export function traceHeaders(): Record<string, string> | undefined {
  if (!running) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** Headers as NATS carries them: a `get` by name. */
interface HeaderSource {
  get(name: string): string;
}

const natsGetter: TextMapGetter<HeaderSource | undefined> = {
  get: (h, key) => h?.get(key) || undefined,
  keys: () => [],
};

/** The context a message's headers carry (a job notification's `traceparent`), or the root. */
function contextFromHeaders(h: HeaderSource | undefined): Context {
  if (!running || !h) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, h, natsGetter);
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The trace id of a W3C `traceparent` header, or undefined when it is absent
 * or not valid (an all-zero id is invalid). Read without the SDK: a client's
 * trace id is recorded (audit, logs) even when this process exports nothing.
 */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  const value = Array.isArray(traceparent) ? traceparent[0] : traceparent;
  const m = value ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!m?.[1] || /^0+$/.test(m[1]) || /^0+$/.test(m[2] ?? '')) return undefined;
  return m[1];
}
