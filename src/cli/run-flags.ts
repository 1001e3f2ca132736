// The flags `exec` and `shell` share for how a command runs on the host:
// `--env NAME=VALUE` (repeatable), `--stdin TEXT` or `--stdin-file FILE` (`-`
// for this command's own stdin), and `--user USER`. The API checks the values;
// here only what the API cannot see is refused (a flag without `=`, a file
// that cannot be read or is too large to send).
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { STDIN_MAX_CHARS } from '../contract/command.js';
import { UsageError } from './context.js';

export interface RunFlags {
  env?: Record<string, string>;
  stdin?: string;
  stdinFile?: string;
  user?: string;
}

/** `NAME=VALUE`; the value may be empty and may hold `=`. A name given twice keeps the last. */
export function parseEnvFlag(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) {
    throw new UsageError(`--env: expected NAME=VALUE, got ${JSON.stringify(value)}`);
  }
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function addRunFlags(c: Command): Command {
  return c
    .option(
      '--env <NAME=VALUE>',
      "environment variable for the command, over the agent's; repeatable",
      parseEnvFlag,
    )
    .option('--stdin <text>', "text written to the command's stdin")
    .option('--stdin-file <file>', "file written to the command's stdin; - reads this stdin")
    .option('--user <user>', 'run as this user on the host (the agent must run as root)');
}

/** The body fields the flags give, reading --stdin-file. */
export async function runFields(
  flags: RunFlags,
): Promise<Pick<RunFlags, 'env' | 'stdin' | 'user'>> {
  if (flags.stdin !== undefined && flags.stdinFile !== undefined) {
    throw new UsageError('--stdin and --stdin-file cannot both be given');
  }
  const stdin = flags.stdinFile !== undefined ? await readStdinFile(flags.stdinFile) : flags.stdin;
  return {
    ...(flags.env !== undefined ? { env: flags.env } : {}),
    ...(stdin !== undefined ? { stdin } : {}),
    ...(flags.user !== undefined ? { user: flags.user } : {}),
  };
}

/** Reads at most what the API can take, so a huge file or endless pipe is refused, not buffered. */
async function readStdinFile(file: string): Promise<string> {
  // A character is at most 4 bytes of UTF-8: more bytes than that cannot fit.
  const maxBytes = STDIN_MAX_CHARS * 4;
  const input = file === '-' ? process.stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of input) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bytes += buf.length;
      if (bytes > maxBytes) break;
      chunks.push(buf);
    }
  } catch (err) {
    throw new UsageError(
      `--stdin-file: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`,
    );
  } finally {
    if (file !== '-') (input as ReturnType<typeof createReadStream>).destroy();
  }
  const text = bytes > maxBytes ? undefined : Buffer.concat(chunks).toString('utf8');
  // The API's limit counts characters (code points), as the schema's maxLength does.
  if (text === undefined || [...text].length > STDIN_MAX_CHARS) {
    throw new UsageError(
      `--stdin-file: ${file === '-' ? 'stdin' : file} is longer than the ${STDIN_MAX_CHARS} characters a command's stdin may be`,
    );
  }
  return text;
}
