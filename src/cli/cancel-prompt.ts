// Ctrl-C during `--follow`: asks whether to cancel the job. Yes cancels it
// (POST /job/{id}/cancel) and keeps following, so the cancelled hosts'
// results and the summary still show; no, or no terminal to ask on, stops
// following and leaves the job running. A second Ctrl-C at the question is a no.
import { createInterface } from 'node:readline/promises';
import type { OsapiClient } from '../sdk/client.js';
import type { InterruptHandler } from './follow.js';

export interface PromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

export function askToCancel(
  api: Pick<OsapiClient, 'jobCancel'>,
  streams: PromptStreams = { input: process.stdin, output: process.stderr },
): InterruptHandler {
  return async (jobId) => {
    if (!streams.input.isTTY) return 'stop';
    const rl = createInterface({ input: streams.input, output: streams.output });
    const asked = new AbortController();
    rl.on('SIGINT', () => asked.abort());
    let answer: string;
    try {
      answer = await rl.question(`\nCancel job ${jobId} on every host still running it? [y/N] `, {
        signal: asked.signal,
      });
    } catch {
      answer = '';
    } finally {
      rl.close();
    }
    if (!/^y(es)?$/i.test(answer.trim())) return 'stop';
    try {
      await api.jobCancel(jobId);
    } catch (err) {
      streams.output.write(
        `could not cancel: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return 'stop';
    }
    streams.output.write('cancelled; waiting for the hosts to report\n');
    return 'continue';
  };
}
