// The Run form's fields turned into a command route's body, checked as far
// as a person should hear about before asking the API (which checks it all
// again and names any field it refuses). Pure: no DOM.
import type { ExecRequest, ShellRequest } from '../sdk/client.js';

export interface RunFields {
  mode: 'exec' | 'shell';
  command: string;
  /** Exec only: one argument per line, taken literally. */
  args: string;
  cwd: string;
  timeout: string;
  maxConcurrency: string;
  maxErrors: string;
}

export type RunRequest =
  | { ok: true; mode: 'exec'; body: ExecRequest }
  | { ok: true; mode: 'shell'; body: ShellRequest }
  | { ok: false; field: keyof RunFields; error: string };

const TIMEOUT_MAX_S = 300;

/** A count (>= min) or a percentage: what max_concurrency and max_errors take. */
function countOrPercent(raw: string, min: number): number | string | null {
  const v = raw.trim();
  if (/^[0-9]{1,3}%$/.test(v) && Number(v.slice(0, -1)) <= 100) return v;
  if (/^[0-9]+$/.test(v) && Number(v) >= min) return Number(v);
  return null;
}

export function runRequest(f: RunFields): RunRequest {
  if (!f.command.trim()) return { ok: false, field: 'command', error: 'Type a command to run.' };
  const extra: Partial<ShellRequest> = {};
  if (f.cwd.trim()) extra.cwd = f.cwd.trim();
  if (f.timeout.trim()) {
    const t = Number(f.timeout.trim());
    if (!Number.isInteger(t) || t < 1 || t > TIMEOUT_MAX_S) {
      return {
        ok: false,
        field: 'timeout',
        error: `Timeout: whole seconds from 1 to ${TIMEOUT_MAX_S}.`,
      };
    }
    extra.timeout = t;
  }
  if (f.maxConcurrency.trim()) {
    const v = countOrPercent(f.maxConcurrency, 1);
    if (v === null) {
      return {
        ok: false,
        field: 'maxConcurrency',
        error: 'Max concurrency: a number of hosts (1 or more) or a percentage such as 10%.',
      };
    }
    extra.max_concurrency = v;
  }
  if (f.maxErrors.trim()) {
    const v = countOrPercent(f.maxErrors, 0);
    if (v === null) {
      return {
        ok: false,
        field: 'maxErrors',
        error: 'Max errors: a number of hosts (0 or more) or a percentage such as 5%.',
      };
    }
    extra.max_errors = v;
  }
  if (f.mode === 'shell')
    return { ok: true, mode: 'shell', body: { command: f.command, ...extra } };
  // Blank lines at the end are left over from typing; one in the middle is an empty argument.
  const args = f.args.split(/\r?\n/);
  while (args.length > 0 && args[args.length - 1] === '') args.pop();
  return {
    ok: true,
    mode: 'exec',
    body: { command: f.command.trim(), ...(args.length ? { args } : {}), ...extra },
  };
}
