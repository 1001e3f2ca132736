// `osapi client file upload|list|get|delete|stale`: the file store, whose
// objects `osapi client node file deploy` writes to hosts.
import { readFile } from 'node:fs/promises';
import Table from 'cli-table3';
import type { Command } from 'commander';
import type { FileInfo, StaleDeployment } from '../../contract/file.js';
import { clientFor } from '../api-client.js';
import { printJson, say, UsageError } from '../context.js';
import { escapeLine } from '../escape.js';
import { row } from '../output.js';

function filesTable(files: FileInfo[]): string {
  const t = new Table({
    head: ['NAME', 'SIZE', 'CONTENT TYPE', 'SHA256'],
    style: { head: [], border: [] },
  });
  for (const f of files) t.push(row([f.name, String(f.size), f.content_type, f.sha256]));
  return `${t.toString()}\n`;
}

function staleTable(stale: StaleDeployment[]): string {
  const t = new Table({
    head: ['HOSTNAME', 'PATH', 'OBJECT', 'DEPLOYED', 'DEPLOYED SHA', 'CURRENT SHA'],
    style: { head: [], border: [] },
  });
  for (const s of stale) {
    t.push(
      row([
        s.hostname,
        s.path,
        s.object_name,
        s.deployed_at,
        s.deployed_sha.slice(0, 12),
        s.current_sha ? s.current_sha.slice(0, 12) : '(deleted)',
      ]),
    );
  }
  return `${t.toString()}\n`;
}

export function registerFileCommands(client: Command): void {
  const file = client
    .command('file')
    .description('The file store: objects that `node file deploy` writes to hosts.');

  file
    .command('upload')
    .description('Store a local file as an object (POST /file)')
    .requiredOption('--name <name>', 'the object name')
    .requiredOption('--file <path>', 'the local file to upload')
    .option(
      '--content-type <type>',
      'raw (written as stored) or template (rendered per host)',
      'raw',
    )
    .option('--force', 'replace an object of that name holding other content')
    .action(
      async (
        opts: { name: string; file: string; contentType: string; force?: boolean },
        cmd: Command,
      ) => {
        if (opts.contentType !== 'raw' && opts.contentType !== 'template') {
          throw new UsageError(
            `--content-type: must be raw or template (got "${opts.contentType}")`,
          );
        }
        const content = await readFile(opts.file).catch((err: NodeJS.ErrnoException) => {
          throw new UsageError(`--file: cannot read ${opts.file} (${err.code ?? err.message})`);
        });
        const { ctx, client: api } = clientFor(cmd);
        const { body } = await api.fileUpload(opts.name, content, {
          contentType: opts.contentType,
          ...(opts.force ? { force: true } : {}),
        });
        if (ctx.json) printJson(body);
        else {
          say(
            escapeLine(
              `${body.name}: ${body.changed ? 'stored' : 'unchanged'} (${body.size} bytes, sha256 ${body.sha256})`,
            ),
          );
        }
      },
    );

  file
    .command('list')
    .description('Objects of the file store (GET /file)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.fileList();
      if (ctx.json) printJson(body);
      else process.stdout.write(filesTable(body.files));
    });

  file
    .command('get')
    .description("An object's size, content type and digest (GET /file/{name})")
    .requiredOption('--name <name>', 'the object name')
    .action(async (opts: { name: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.fileGet(opts.name);
      if (ctx.json) printJson(body);
      else process.stdout.write(filesTable([{ ...body, source: 'upload' }]));
    });

  file
    .command('delete')
    .description('Delete an object; files deployed from it stay on the hosts (DELETE /file/{name})')
    .requiredOption('--name <name>', 'the object name')
    .action(async (opts: { name: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.fileDelete(opts.name);
      if (ctx.json) printJson(body);
      else say(escapeLine(`${body.name}: deleted`));
    });

  file
    .command('stale')
    .description('Deployments whose object changed or was deleted since (GET /file/stale)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.fileStale();
      if (ctx.json) printJson(body);
      else process.stdout.write(staleTable(body.stale));
    });
}
