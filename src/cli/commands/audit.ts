// `osapi client audit list|get|export`: the audit trail of API requests.
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { clientFor } from '../api-client.js';
import { printJson, say } from '../context.js';
import { intFlag } from '../flags.js';
import { auditTable } from '../output.js';

export function registerAuditCommands(client: Command): void {
  const audit = client.command('audit').description('The audit trail of API requests.');

  audit
    .command('list')
    .description('Entries, newest first (GET /audit).')
    .option('--limit <n>', 'how many (1..100, default 20)', intFlag('--limit', 1, 100))
    .option('--offset <n>', 'skip this many', intFlag('--offset', 0))
    .action(async (opts: { limit?: number; offset?: number }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.auditList(opts);
      if (ctx.json) printJson(body);
      else {
        process.stdout.write(auditTable(body.items));
        say(`${body.items.length} of ${body.total_items} entries`);
      }
    });

  audit
    .command('get')
    .description('One entry (GET /audit/{id}).')
    .requiredOption('--audit-id <id>', 'the entry')
    .action(async (opts: { auditId: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.auditGet(opts.auditId);
      if (ctx.json) printJson(body);
      else process.stdout.write(auditTable([body.entry]));
    });

  audit
    .command('export')
    .description(
      'Every entry, oldest first, as JSON lines (GET /audit/export), streamed to a file.',
    )
    .requiredOption('--output <file>', 'where to write; - for stdout')
    .action(async (opts: { output: string }, cmd: Command) => {
      const { client: api } = clientFor(cmd);
      const stream = await api.auditExport();
      const out: Writable =
        opts.output === '-' ? process.stdout : createWriteStream(opts.output, { mode: 0o600 });
      let lines = 0;
      const counter = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const b of chunk) if (b === 10) lines++;
          out.write(chunk) ? done() : out.once('drain', done);
        },
        final(done) {
          if (out === process.stdout) done();
          else out.end(done);
        },
      });
      await pipeline(stream, counter);
      if (opts.output !== '-') say(`Wrote ${lines} entries to ${opts.output}.`);
    });
}
