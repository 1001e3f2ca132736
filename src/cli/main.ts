// The osapi command line: builds the command tree and turns every failure
// into a message on stderr and an exit code (2 for bad usage or config, 1 for
// a failed call), never a stack trace. Importing it runs nothing: bin/osapi
// calls main(), and scripts/cli-docs.ts walks buildProgram() for the CLI
// reference.
import { Command, CommanderError } from 'commander';
import { TokenError, TokenRequestError } from '../auth/index.js';
import { ConfigError } from '../config/index.js';
import { OsapiApiError, OsapiConnectionError } from '../sdk/client.js';
import { VERSION } from '../version.js';
import { registerClientCommands } from './commands/client.js';
import { registerMcpCommand } from './commands/mcp.js';
import { registerPlanCommands } from './commands/plan.js';
import { registerServerCommands } from './commands/servers.js';
import { registerTokenCommands } from './commands/token.js';
import { registerUiCommand } from './commands/ui.js';
import { ExitError, UsageError } from './context.js';
import { escapeText } from './escape.js';

/** The whole command tree, as `osapi` parses it. */
export function buildProgram(): Command {
  const program = new Command('osapi')
    .description(
      'Run commands on one host, a labelled group or the whole fleet, through an authorised, audited API.',
    )
    .version(VERSION, '-v, --version', 'print the version')
    .option('-f, --osapi-file <path>', 'config file (default /etc/osapi/osapi.yaml when present)')
    .option('-d, --debug', 'debug logging')
    .option('-j, --json', 'machine output: the API JSON body only, on stdout')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServerCommands(program);
  registerTokenCommands(program);
  registerClientCommands(program);
  registerUiCommand(program);
  registerMcpCommand(program);
  registerPlanCommands(program);
  // Every subcommand inherits exitOverride so errors reach the handler below.
  const inherit = (c: Command) => {
    c.exitOverride();
    c.showHelpAfterError('(run with --help for usage)');
    for (const sub of c.commands) inherit(sub);
  };
  inherit(program);
  return program;
}

function jsonWanted(argv: string[]): boolean {
  return argv.includes('-j') || argv.includes('--json');
}

/** Runs the CLI on `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return report(err, jsonWanted(argv));
  }
}

function report(err: unknown, json: boolean): number {
  const say = (s: string) => process.stderr.write(`${s}\n`);
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof CommanderError) {
    // Help and version are successes; commander already printed its message.
    return err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
      ? 0
      : 2;
  }
  if (err instanceof ConfigError) {
    say(
      `osapi: invalid configuration:\n${err.message
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n')}`,
    );
    return 2;
  }
  if (err instanceof UsageError || err instanceof TokenRequestError) {
    say(`osapi: ${err.message}`);
    return 2;
  }
  if (err instanceof TokenError) {
    say(`osapi: invalid token: ${err.message}`);
    return 1;
  }
  if (err instanceof OsapiApiError) {
    if (json) process.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`);
    // The message may quote what an agent wrote (a hostname, an error): escaped.
    say(`osapi: the API answered ${err.status}: ${escapeText(err.message)}`);
    return 1;
  }
  if (err instanceof OsapiConnectionError) {
    say(`osapi: ${err.message}`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  say(`osapi: ${message}`);
  if (process.env.OSAPI_DEBUG === 'true' && err instanceof Error && err.stack) say(err.stack);
  return 1;
}
