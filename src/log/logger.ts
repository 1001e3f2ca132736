// One structured (JSON) logger for every component, quiet by default: warnings
// and errors only, everything with -d/--debug. The API server hands the same
// instance to Fastify so request lines share its format.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  debug: boolean;
  /** Where lines go; default stderr so that stdout stays for command output. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.debug ? 'debug' : 'warn',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Secrets must never reach a log line, whatever object is logged.
      redact: {
        paths: [
          '*.signing_key',
          '*.bearer_token',
          '*.password',
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '<redacted>',
      },
    },
    opts.destination ?? pino.destination(2),
  );
}
