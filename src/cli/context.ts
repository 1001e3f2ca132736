// What every CLI command shares: loading the config from -f/env/flags, the
// logger, the errors that map to exit codes, and where output goes.
import { statSync } from 'node:fs';
import { type Config, ConfigError, loadConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log/logger.js';

export interface GlobalOptions {
  osapiFile?: string;
  debug?: boolean;
  json?: boolean;
}

/** Bad usage or bad input from the command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure already explained to the user: exit with this code, print nothing more. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export interface CommandContext {
  config: Config;
  /** Dotted keys set by file, env or flag: a defaulted key is absent. */
  explicit: ReadonlySet<string>;
  logger: Logger;
  json: boolean;
}

export function loadContext(
  globals: GlobalOptions,
  overrides: Record<string, unknown> = {},
  overrideLabels: Record<string, string> = {},
): CommandContext {
  const loaded = loadConfig({
    ...(globals.osapiFile ? { file: globals.osapiFile } : {}),
    overrides: { ...overrides, ...(globals.debug ? { debug: true } : {}) },
    overrideLabels,
  });
  const logger = createLogger({ debug: loaded.config.debug });
  for (const w of loaded.warnings) logger.warn(w);
  if (loaded.file) warnIfSecretsExposed(loaded.file, loaded.fileSecrets, logger);
  return { config: loaded.config, explicit: loaded.explicit, logger, json: Boolean(globals.json) };
}

export { ConfigError };

export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A config file holding secrets must not be readable by other users. Only the
 * file's own values count: a secret from an environment variable is not in it.
 */
function warnIfSecretsExposed(file: string, keys: readonly string[], logger: Logger): void {
  if (keys.length === 0) return;
  let mode = 0;
  try {
    mode = statSync(file).mode;
  } catch {
    return;
  }
  if ((mode & 0o044) !== 0) {
    logger.warn(
      { file, keys },
      `config file ${file} holds secrets and is readable by other users; run: chmod 600 ${file}`,
    );
  }
}
