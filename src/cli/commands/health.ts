// `osapi client health [ready|status]` and `osapi client metrics`: what an
// operator asks first when something seems wrong.
import Table from 'cli-table3';
import type { Command } from 'commander';
import { humanBytes } from '../../format/units.js';
import type { HealthStatus } from '../../sdk/client.js';
import { clientFor } from '../api-client.js';
import { ExitError, printJson, UsageError } from '../context.js';
import { escapeLine, escapeText } from '../escape.js';
import { row } from '../output.js';

const CHECKS = ['ready', 'status'] as const;

function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  // Agents write the registry (hostnames, labels): every cell escaped.
  t.push(...rows.map(row));
  return t.toString();
}

/** The status for people: a summary, then the components and the details. */
export function healthStatusText(s: HealthStatus): string {
  const j = s.jobs;
  const lines = [
    escapeLine(`Status: ${s.status}    Version: ${s.version}    Uptime: ${s.uptime}`),
    escapeLine(`NATS: ${s.nats.url} (v${s.nats.version})`),
    `Jobs: ${j.total} total, ${j.unprocessed} unprocessed, ${j.processing} processing, ${j.completed} completed, ${j.failed} failed, ${j.partial_failure} partial failure, ${j.dlq} dlq`,
    `Agents: ${s.agents.total} total, ${s.agents.ready} ready`,
    '',
    'Components:',
    table(
      ['COMPONENT', 'STATUS', 'ERROR'],
      Object.entries(s.components).map(([name, c]) => [name, c.status, c.error ?? '']),
    ),
  ];
  if (s.agents.agents.length > 0) {
    lines.push(
      '',
      'Agents:',
      table(
        ['HOSTNAME', 'STATUS', 'LABELS', 'REGISTERED'],
        s.agents.agents.map((a) => [a.hostname, a.status, a.labels, a.registered]),
      ),
    );
  }
  if (s.streams.length > 0) {
    lines.push(
      '',
      'Streams:',
      table(
        ['NAME', 'MESSAGES', 'BYTES', 'CONSUMERS'],
        s.streams.map((x) => [
          x.name,
          String(x.messages),
          humanBytes(x.bytes),
          String(x.consumers),
        ]),
      ),
    );
  }
  if (s.kv_buckets.length > 0) {
    lines.push(
      '',
      'KV buckets:',
      table(
        ['NAME', 'KEYS', 'BYTES'],
        s.kv_buckets.map((b) => [b.name, String(b.keys), humanBytes(b.bytes)]),
      ),
    );
  }
  lines.push('', `Consumers: ${s.consumers.total}`);
  if (s.consumers.consumers.length > 0) {
    lines.push(
      table(
        ['NAME', 'PENDING', 'ACK PENDING', 'REDELIVERED'],
        s.consumers.consumers.map((c) => [
          c.name,
          String(c.pending),
          String(c.ack_pending),
          String(c.redelivered),
        ]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function registerHealthCommands(client: Command): void {
  client
    .command('health')
    .description(
      'Liveness of the API server (GET /health); `ready` for readiness, `status` for the whole system (exit 1 when degraded).',
    )
    .argument('[which]', 'ready: GET /health/ready; status: GET /health/status')
    .action(async (which: string | undefined, _opts: unknown, cmd: Command) => {
      if (which !== undefined && !(CHECKS as readonly string[]).includes(which)) {
        throw new UsageError(
          `unknown health check "${which}": expected nothing, "ready" or "status"`,
        );
      }
      const { ctx, client: api } = clientFor(cmd);
      if (which === 'status') {
        const { body } = await api.healthStatus();
        if (ctx.json) printJson(body);
        else process.stdout.write(healthStatusText(body));
        // Degraded is an answer, but scripts checking the system must see it fail.
        if (body.status !== 'ok') throw new ExitError(1);
        return;
      }
      const { body } = which === 'ready' ? await api.ready() : await api.health();
      if (ctx.json) printJson(body);
      else process.stdout.write(`Status: ${escapeLine(body.status)}\n`);
    });

  client
    .command('metrics')
    .description("The API server's Prometheus metrics (GET /metrics), as text.")
    .action(async (_opts: unknown, cmd: Command) => {
      const { client: api } = clientFor(cmd);
      // Prometheus text is the machine format already: -j changes nothing.
      const { body } = await api.metrics();
      // Label values hold hostnames: text, with no control but newlines.
      const text = escapeText(body);
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    });
}
