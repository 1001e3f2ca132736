// An OTLP/HTTP trace receiver in the test process: accepts POST /v1/traces
// with JSON bodies (the exporter's http/json) and keeps every span it is sent.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  serviceName: string;
  attributes: Record<string, unknown>;
  /** Start and end, in ms since the epoch to the microsecond (the clock of the process that made it). */
  startMs: number;
  endMs: number;
}

export interface OtlpReceiver {
  /** The traces URL, `/v1/traces` included. */
  url: string;
  spans: ReceivedSpan[];
  /** Requests received, whatever they held. */
  requests: number;
  stop(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: OtlpValue[] };
}

function plainValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plainValue);
  return undefined;
}

/** OTLP's nanoseconds since the epoch (a decimal string) in ms, to the microsecond. */
function msOf(nanos: string | number | undefined): number {
  if (nanos === undefined) return Number.NaN;
  return Number(BigInt(nanos) / 1000n) / 1000;
}

/** Ids are hex in OTLP/JSON; base64 (protobuf's JSON mapping) is read too. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, 'base64').toString('hex');
}

interface KeyValue {
  key: string;
  value: OtlpValue;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plainValue(a.value)]));
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const receiver: OtlpReceiver = { url: '', spans, requests: 0, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      receiver.requests++;
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: hexId(s.traceId),
                spanId: hexId(s.spanId),
                parentSpanId: hexId(s.parentSpanId),
                name: s.name,
                kind: s.kind,
                serviceName: String(resource['service.name'] ?? ''),
                attributes: attributesOf(s.attributes),
                startMs: msOf(s.startTimeUnixNano),
                endMs: msOf(s.endTimeUnixNano),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}/v1/traces`;
  receiver.stop = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}
