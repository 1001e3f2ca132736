import type { Command } from 'commander';
import { TIMEOUT_DEFAULT_S, TIMEOUT_MAX_S } from '../../contract/command.js';
import { documentedRoute, OPERATIONS } from '../../contract/operations.js';
import type { CommandResponse, OsapiClient } from '../../sdk/client.js';
import { clientFor } from '../api-client.js';
import { parseArgsList } from '../args.js';
import { askToCancel } from '../cancel-prompt.js';
import { confirmChangeOnAll } from '../confirm.js';
import { type CommandContext, ExitError, printJson, say, UsageError } from '../context.js';
import { escapeLine } from '../escape.js';
import { countOrPercentFlag, intFlag } from '../flags.js';
import { followJob, followSummary } from '../follow.js';
import { groupedText, isOk, summaryLine } from '../group-output.js';
import { registerOperationCommands, TARGET_HELP } from '../operation-commands.js';
import { agentTable, commandTable, factKeysTable, factsTable, pendingTable } from '../output.js';
import { addRunFlags, type RunFlags, runFields } from '../run-flags.js';
import { registerAuditCommands } from './audit.js';
import { registerFileCommands } from './file.js';
import { registerHealthCommands } from './health.js';
import { registerJobCommands } from './job.js';

interface OutputFlags {
  async?: boolean;
  group?: boolean;
  idempotencyKey?: string;
  follow?: boolean;
}

interface RolloutFlags {
  maxConcurrency?: number | string;
  maxErrors?: number | string;
}

/** The body fields for --max-concurrency / --max-errors, when given. */
function rolloutBody(opts: RolloutFlags) {
  return {
    ...(opts.maxConcurrency !== undefined ? { max_concurrency: opts.maxConcurrency } : {}),
    ...(opts.maxErrors !== undefined ? { max_errors: opts.maxErrors } : {}),
  };
}

/** With --follow, how long past the command's timeout a silent job is still waited for. */
const FOLLOW_MARGIN_S = 10;

/** `--follow`: the job was sent with ?async=true; print its lines as they come, then the summary. */
async function follow(
  ctx: CommandContext,
  api: OsapiClient,
  body: CommandResponse,
  timeoutS: number,
): Promise<void> {
  if (!ctx.json) process.stdout.write(`Job ID: ${escapeLine(body.job_id)}\n`);
  const outcome = await followJob(api, {
    jobId: body.job_id,
    expectedHosts: body.expected_hosts ?? [],
    idleMs: (timeoutS + FOLLOW_MARGIN_S) * 1000,
    json: ctx.json,
    // Ctrl-C asks whether to cancel the job; no (or no terminal) stops following.
    onInterrupt: askToCancel(api),
  });
  if (!ctx.json) {
    const last = followSummary(body.job_id, outcome);
    process.stdout.write(last.stdout);
    process.stderr.write(last.stderr);
  }
  if (outcome.ended === 'interrupted') throw new ExitError(130);
  // As without --follow: any host that did not succeed fails the run (a silent one included).
  const failed = !outcome.results.every(isOk);
  if (outcome.ended !== 'end' || failed || outcome.results.length === 0) throw new ExitError(1);
}

function show(ctx: CommandContext, body: CommandResponse, flags: OutputFlags): void {
  if (flags.async) {
    // Nothing ran yet: the id is the result, and a script reads it from stdout.
    if (ctx.json) printJson(body);
    else {
      process.stdout.write(`Job ID: ${escapeLine(body.job_id)}\n`);
      const hosts = body.expected_hosts ?? [];
      say(
        escapeLine(
          `Sent to ${hosts.length > 0 ? hosts.join(', ') : 'any one agent'}; results: osapi client job get --job-id ${body.job_id}`,
        ),
      );
    }
    return;
  }
  if (ctx.json) printJson(body);
  else if (flags.group) process.stdout.write(groupedText(body));
  else process.stdout.write(`${commandTable(body)}${summaryLine(body.results)}\n`);
  // As pdsh -S, clush -S and Ansible: the run fails when any host did not succeed (a non-zero
  // exit, an error, timed out, cancelled, skipped, refused, no answer), -j included.
  if (!body.results.every(isOk)) throw new ExitError(1);
}

export function registerClientCommands(program: Command): void {
  const client = program
    .command('client')
    .description('Call the OSAPI API.')
    .option('--url <url>', 'API base URL (overrides api.client.url)');

  registerHealthCommands(client);

  registerJobCommands(client);
  registerFileCommands(client);
  registerAuditCommands(client);

  const agent = client.command('agent').description('Agents registered with the API.');
  agent
    .command('list')
    .description('Every agent (GET /agent); with -T, the Ready agents a target would reach.')
    .option('-T, --target <target>', `preview a ${TARGET_HELP}`)
    .action(async (opts: { target?: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.agentList(opts.target);
      if (ctx.json) printJson(body);
      else {
        process.stdout.write(agentTable(body.agents));
        say(
          `${body.total} agent${body.total === 1 ? '' : 's'}${opts.target ? ` match ${opts.target}` : ''}`,
        );
      }
    });
  agent
    .command('get')
    .description('One agent (GET /agent/{hostname}).')
    .requiredOption('--hostname <hostname>', 'the agent')
    .action(async (opts: { hostname: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.agentGet(opts.hostname);
      if (ctx.json) printJson(body);
      else {
        process.stdout.write(agentTable([body]));
        if (body.facts) process.stdout.write(factsTable(body.facts));
      }
    });

  agent
    .command('pending')
    .description('Agents whose key waits for an operator to accept it (GET /agent/pending).')
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.agentPending();
      if (ctx.json) printJson(body);
      else {
        process.stdout.write(pendingTable(body.agents));
        say(`${body.total} agent${body.total === 1 ? '' : 's'} pending`);
      }
    });
  agent
    .command('accept')
    .description(
      'Accept the key an agent presents; it then takes jobs (POST /agent/{hostname}/accept).',
    )
    .requiredOption('--hostname <hostname>', 'the agent')
    .option(
      '--fingerprint <fingerprint>',
      'accept only this key (run `osapi agent key fingerprint` on the host)',
    )
    .action(async (opts: { hostname: string; fingerprint?: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.agentAccept(opts.hostname, opts.fingerprint);
      if (ctx.json) printJson(body);
      else say(body.message);
    });
  agent
    .command('reject')
    .description(
      'Reject the key an agent presents; it takes no jobs (POST /agent/{hostname}/reject).',
    )
    .requiredOption('--hostname <hostname>', 'the agent')
    .action(async (opts: { hostname: string }, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.agentReject(opts.hostname);
      if (ctx.json) printJson(body);
      else say(body.message);
    });

  for (const [name, drain] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    agent
      .command(name)
      .description(
        drain
          ? 'Drain an agent: it finishes what it runs and takes nothing new (POST /agent/{hostname}/drain).'
          : 'Undrain an agent: it takes jobs again (POST /agent/{hostname}/undrain).',
      )
      .requiredOption('--hostname <hostname>', 'the agent')
      .action(async (opts: { hostname: string }, cmd: Command) => {
        const { ctx, client: api } = clientFor(cmd);
        const { body } = drain
          ? await api.agentDrain(opts.hostname)
          : await api.agentUndrain(opts.hostname);
        if (ctx.json) printJson(body);
        else say(`${body.hostname}: ${body.state} (${body.message})`);
      });
  }

  client
    .command('facts')
    .description('Facts agents collect about their hosts.')
    .command('keys')
    .description(
      'The keys @fact.<key> may name in a request: built in, and in use by some agent (GET /facts/keys).',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { ctx, client: api } = clientFor(cmd);
      const { body } = await api.factKeys();
      if (ctx.json) printJson(body);
      else process.stdout.write(factKeysTable(body.keys));
    });

  const node = client.command('node').description('Operations on managed hosts.');
  const command = node.command('command').description('Run commands on hosts.');
  registerOperationCommands(client);

  const common = (c: Command) =>
    c
      .requiredOption('--command <command>', 'what to run')
      .option('--cwd <dir>', 'working directory on the host')
      .option(
        '--timeout <seconds>',
        'seconds before the command is killed (1..300, default 30)',
        intFlag('--timeout', 1, TIMEOUT_MAX_S),
      )
      .option('-T, --target <target>', TARGET_HELP, '_any')
      .option('-y, --yes', 'do not ask before running on ALL hosts')
      .option(
        '--async',
        'do not wait: print the job id at once (then: osapi client job get --job-id ID)',
      )
      .option('--group', 'one block per distinct output, headed by its hosts (like clush -b)')
      .option(
        '--idempotency-key <key>',
        'sent as Idempotency-Key: the same key again (within 24 h) returns the first job, never runs twice',
      )
      .option(
        '--max-concurrency <n|pct>',
        'broadcasts: at most this many hosts at once (a number, or a percentage like 10%)',
        countOrPercentFlag('--max-concurrency', 1),
      )
      .option(
        '--max-errors <n|pct>',
        'broadcasts: once more hosts than this failed, start no more; the rest are skipped',
        countOrPercentFlag('--max-errors', 0),
      )
      .option(
        '--follow',
        'print each line as it comes, as "host: line" (stdout and stderr apart), then the summary; with -j one JSON event per line',
      );

  // Grouping needs results, and --async returns before there are any.
  const checkFlags = (opts: OutputFlags) => {
    if (opts.async && opts.group) {
      throw new UsageError('--group needs the results; it cannot be used with --async');
    }
    if (opts.follow && (opts.async || opts.group)) {
      throw new UsageError(
        `--follow prints output as it comes; it cannot be used with ${opts.async ? '--async' : '--group'}`,
      );
    }
  };

  type CommandOpts = {
    command: string;
    args?: string[];
    cwd?: string;
    timeout?: number;
    target: string;
    yes?: boolean;
  } & OutputFlags &
    RolloutFlags &
    RunFlags;

  /** `exec` and `shell` differ only in the arguments, the endpoint and the confirmation's words. */
  const runCommandAction =
    (mode: 'exec' | 'shell') =>
    async (opts: CommandOpts, cmd: Command): Promise<void> => {
      const { ctx, client: api } = clientFor(cmd);
      checkFlags(opts);
      const run = await runFields(opts);
      if (opts.target === '_all') {
        await confirmChangeOnAll(
          mode === 'exec' ? 'execute command' : 'execute shell command',
          opts.yes,
        );
      }
      const request = {
        command: opts.command,
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}),
        ...rolloutBody(opts),
        ...run,
      };
      const options = {
        async: opts.async === true || opts.follow === true,
        ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
      };
      const { body } =
        mode === 'exec'
          ? await api.commandExec(
              opts.target,
              { ...request, ...(opts.args ? { args: opts.args } : {}) },
              options,
            )
          : await api.commandShell(opts.target, request, options);
      if (opts.follow) await follow(ctx, api, body, opts.timeout ?? TIMEOUT_DEFAULT_S);
      else show(ctx, body, opts);
    };

  /** The words and description of a command the declarations name (src/contract/operations.ts). */
  const declared = (type: 'command.exec.execute' | 'command.shell.execute') => {
    const decl = OPERATIONS[type];
    return command
      .command(decl.cli.command[decl.cli.command.length - 1] as string)
      .description(`${decl.summary} (${documentedRoute(decl)}).`);
  };

  addRunFlags(common(declared('command.exec.execute')))
    .option('--args <list>', 'arguments, comma-separated ("a,b"); repeatable', parseArgsList)
    .action(runCommandAction('exec'));

  addRunFlags(common(declared('command.shell.execute'))).action(runCommandAction('shell'));
}
