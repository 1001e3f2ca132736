// `--follow` on `client node command exec|shell`: follows the job's stream
// (GET /job/{id}/stream) and prints each line as it arrives as `host: line`,
// stdout to stdout and stderr to stderr, the host coloured on a terminal;
// then the summary line. Reconnects where it left off when the connection
// drops; stops waiting when nothing has come for the command's timeout and a
// margin, as the waiting path does, and names the hosts that did not answer.
import pc from 'picocolors';
import type { StreamResultData } from '../contract/job.js';
import { noAnswerResult } from '../contract/no-answer.js';
import {
  type CommandResponse,
  type JobStreamEvent,
  OsapiApiError,
  type OsapiClient,
  OsapiConnectionError,
} from '../sdk/client.js';
import { escapeLine, escapeText } from './escape.js';
import { summaryLine } from './group-output.js';

type ResultItem = CommandResponse['results'][number];

/** Where the lines go; a stream that is a terminal gets colours. */
export interface FollowOutput {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

/**
 * What Ctrl-C does while following: 'stop' stops following (the job goes on),
 * 'continue' keeps following. Cancelling the job, after asking, plugs in here.
 */
export type InterruptHandler = (jobId: string) => Promise<'stop' | 'continue'>;

/** The default: stop following, say how to read the rest, leave the job running. */
export const stopFollowing: InterruptHandler = async () => 'stop';

export interface FollowOptions {
  jobId: string;
  /** The hosts the job went to (empty for `_any`: whichever agent takes it). */
  expectedHosts: string[];
  /** Stop following when no event has come for this long. */
  idleMs: number;
  /** One JSON object per event (`{event, id, data}`) instead of lines. */
  json: boolean;
  output?: FollowOutput;
  env?: NodeJS.ProcessEnv;
  onInterrupt?: InterruptHandler;
  /** Ends following from outside (tests); Ctrl-C goes through onInterrupt. */
  signal?: AbortSignal;
  /** How often to try again after the connection drops, and the first wait. */
  reconnect?: { attempts: number; delayMs: number };
}

export interface FollowOutcome {
  /** One per host that has a result, then one `no_answer` per expected host without. */
  results: ResultItem[];
  /** How following ended. */
  ended: 'end' | 'idle' | 'interrupted' | 'gone';
}

// Colours for hostnames: not red, which reads as an error.
const PALETTE = [
  'cyan',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyanBright',
  'greenBright',
] as const;

/** Colours when the stream is a terminal and NO_COLOR is unset or empty (no-color.org). */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

function hostColour(hostname: string): (typeof PALETTE)[number] {
  let h = 0;
  for (const c of hostname) h = (h * 31 + (c.codePointAt(0) ?? 0)) >>> 0;
  return PALETTE[h % PALETTE.length] ?? 'cyan';
}

/**
 * One line of a command's output as printed after its host: a CRLF ends it as
 * a newline does; tabs stay; every other control is escaped, so no line can
 * move the cursor, rewrite another host's line or hide in a terminal title.
 */
export function followLine(line: string): string {
  return escapeText(line.endsWith('\r') ? line.slice(0, -1) : line);
}

/** Text arrives in pieces that need not end at a line: print whole lines, keep the rest. */
class LinePrinter {
  private readonly partial = new Map<string, string>();
  private readonly colours: Record<'stdout' | 'stderr', ReturnType<typeof pc.createColors>>;

  constructor(
    private readonly out: FollowOutput,
    env: NodeJS.ProcessEnv,
  ) {
    this.colours = {
      stdout: pc.createColors(useColour(out.stdout, env)),
      stderr: pc.createColors(useColour(out.stderr, env)),
    };
  }

  private prefix(hostname: string, stream: 'stdout' | 'stderr'): string {
    return `${this.colours[stream][hostColour(hostname)](`${escapeLine(hostname)}:`)} `;
  }

  write(hostname: string, stream: 'stdout' | 'stderr', data: string): void {
    const key = `${stream}\0${hostname}`;
    const text = (this.partial.get(key) ?? '') + data;
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    if (rest === '') this.partial.delete(key);
    else this.partial.set(key, rest);
    if (lines.length === 0) return;
    const prefix = this.prefix(hostname, stream);
    this.out[stream].write(lines.map((l) => `${prefix}${followLine(l)}\n`).join(''));
  }

  /** A host is done (or following is): its last line, even without a newline. */
  flush(hostname?: string): void {
    for (const [key, rest] of this.partial) {
      const [stream, host] = key.split('\0') as ['stdout' | 'stderr', string];
      if (hostname !== undefined && host !== hostname) continue;
      this.out[stream].write(`${this.prefix(host, stream)}${followLine(rest)}\n`);
      this.partial.delete(key);
    }
  }
}

function resultItem(r: StreamResultData): ResultItem {
  return {
    hostname: r.hostname,
    stdout: '',
    stderr: '',
    exit_code: r.exit_code ?? -1,
    duration_ms: 0,
    changed: false,
    ...(r.error !== undefined ? { error: r.error } : {}),
    // A host without a stored result that says why (refused) failed; one that says nothing never answered.
    status: r.status ?? (r.error !== undefined ? 'failed' : 'no_answer'),
    state: r.state,
    stdout_truncated: false,
    stderr_truncated: false,
  };
}

function noAnswer(hostname: string, idleMs: number): ResultItem {
  return noAnswerResult(
    hostname,
    `no answer from this agent while following (nothing came for ${Math.round(idleMs / 1000)} s)`,
  );
}

/**
 * Follows a job until its `end` (or a stop), printing as it goes, and
 * returns the results for the summary. Throws what the first connection
 * throws (a 404, the API unreachable); later drops are retried.
 */
export async function followJob(client: OsapiClient, opts: FollowOptions): Promise<FollowOutcome> {
  const out = opts.output ?? { stdout: process.stdout, stderr: process.stderr };
  const printer = new LinePrinter(out, opts.env ?? process.env);
  const results = new Map<string, StreamResultData>();
  const reconnect = opts.reconnect ?? { attempts: 5, delayMs: 500 };
  const stop = new AbortController();
  let ended: FollowOutcome['ended'] | undefined;
  const finish = (how: FollowOutcome['ended']) => {
    ended ??= how;
    stop.abort();
  };
  opts.signal?.addEventListener('abort', () => finish('interrupted'), { once: true });

  let idle: NodeJS.Timeout | undefined;
  const stillHere = () => {
    clearTimeout(idle);
    idle = setTimeout(() => finish('idle'), opts.idleMs);
  };
  const onSigint = () => {
    const ask = opts.onInterrupt ?? stopFollowing;
    void ask(opts.jobId).then(
      (answer) => {
        if (answer === 'stop') finish('interrupted');
        else process.once('SIGINT', onSigint);
      },
      () => finish('interrupted'),
    );
  };
  process.once('SIGINT', onSigint);

  const handle = (e: JobStreamEvent) => {
    stillHere();
    if (opts.json) out.stdout.write(`${JSON.stringify(e)}\n`);
    switch (e.event) {
      case 'output':
        if (!opts.json) printer.write(e.data.hostname, e.data.stream, e.data.data);
        break;
      case 'result':
        if (!opts.json) printer.flush(e.data.hostname);
        results.set(e.data.hostname, e.data);
        break;
      case 'skipped':
        if (!opts.json) {
          out.stderr.write(
            `[${escapeLine(String(e.data.events))} output events skipped: ${escapeLine(e.data.message.replace(/ \(GET .*\)$/, ''))}; osapi client job get --job-id ${opts.jobId}]\n`,
          );
        }
        break;
      case 'end':
        finish('end');
        break;
    }
  };

  try {
    stillHere();
    let lastEventId: string | undefined;
    let failures = 0;
    for (let attempt = 0; ended === undefined; attempt++) {
      try {
        for await (const e of client.streamJob(opts.jobId, {
          signal: stop.signal,
          ...(lastEventId ? { lastEventId } : {}),
        })) {
          lastEventId = e.id;
          failures = 0;
          handle(e);
        }
        if (ended !== undefined) break;
        // Closed without an end: the API restarting, or the job deleted; look again.
      } catch (err) {
        // The first answer is the caller's to report (a 404, the API unreachable); later ones are drops.
        if (attempt === 0) throw err;
        if (err instanceof OsapiApiError && err.status === 404) {
          out.stderr.write(`job ${opts.jobId} is gone (deleted or expired) while following it\n`);
          finish('gone');
          break;
        }
        if (!(err instanceof OsapiConnectionError)) throw err;
      }
      if (++failures > reconnect.attempts) {
        throw new OsapiConnectionError(
          `lost the stream of job ${opts.jobId} and could not get it back; the job goes on: osapi client job get --job-id ${opts.jobId}`,
        );
      }
      await new Promise((r) => setTimeout(r, reconnect.delayMs * 2 ** (failures - 1)));
    }
  } finally {
    clearTimeout(idle);
    process.removeListener('SIGINT', onSigint);
    if (!opts.json) printer.flush();
  }

  const items = [...results.values()]
    .sort((a, b) => a.hostname.localeCompare(b.hostname))
    .map(resultItem);
  const missing = opts.expectedHosts.filter((h) => !results.has(h)).sort();
  return {
    results: [...items, ...missing.map((h) => noAnswer(h, opts.idleMs))],
    ended: ended ?? 'end',
  };
}

/** The last lines for people: the summary, and what to do when following stopped early. */
export function followSummary(
  jobId: string,
  outcome: FollowOutcome,
): { stdout: string; stderr: string } {
  const how: Record<FollowOutcome['ended'], string> = {
    end: '',
    idle: `stopped following: nothing came for a while; the job goes on: osapi client job get --job-id ${jobId}\n`,
    interrupted: `stopped following; the job goes on: osapi client job get --job-id ${jobId}\n`,
    gone: '',
  };
  const none = outcome.results.length === 0;
  return {
    stdout: none ? '' : `${summaryLine(outcome.results)}\n`,
    stderr: how[outcome.ended],
  };
}
