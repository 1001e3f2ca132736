// The result item of a host that never answered a command: the waiting route and the CLI's
// `--follow` (which only sees the stream) give it the same shape, from the wire contract, so the
// CLI takes nothing of the API server with it.
import type { CommandResultItem } from './command.js';

export function noAnswerResult(hostname: string, error: string): CommandResultItem {
  return {
    hostname,
    stdout: '',
    stderr: '',
    exit_code: -1,
    duration_ms: 0,
    changed: false,
    error,
    status: 'no_answer',
    // As GET /job/{id} counts a host silent past its wait.
    state: 'no_response',
    stdout_truncated: false,
    stderr_truncated: false,
  };
}
