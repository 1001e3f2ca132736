// Output of a command run on many hosts, for people: `--group` collapses hosts
// whose output is the same into one block headed by the host list (as
// `dshbak -c` and `clush -b` do), and every non-JSON output ends with a
// one-line summary naming the hosts that failed and why.

import { foldHosts } from '../format/hosts.js';
import type { CommandResponse } from '../sdk/client.js';
import { escapeLine, escapeText } from './escape.js';

type Result = CommandResponse['results'][number];

export interface OutputGroup {
  /** In the order the results came (the API sorts them by hostname). */
  hosts: string[];
  stdout: string;
  stderr: string;
  exit_code: number;
  error?: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}

/**
 * Hosts with identical stdout, stderr and exit code share a group. The error
 * is part of the key too: a host that timed out is not merged with one whose
 * program chose to exit 124 with the same (empty) output.
 */
export function groupResults(results: Result[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const r of results) {
    const key = JSON.stringify([r.stdout, r.stderr, r.exit_code, r.error ?? null]);
    const g = groups.get(key);
    if (g) {
      g.hosts.push(r.hostname);
      // A capped stream is only "the same" up to the cap: say so if any host's was cut.
      g.stdout_truncated ||= r.stdout_truncated;
      g.stderr_truncated ||= r.stderr_truncated;
    } else {
      groups.set(key, {
        hosts: [r.hostname],
        stdout: r.stdout,
        stderr: r.stderr,
        exit_code: r.exit_code,
        ...(r.error !== undefined ? { error: r.error } : {}),
        stdout_truncated: r.stdout_truncated,
        stderr_truncated: r.stderr_truncated,
      });
    }
  }
  // Largest group first: on a fleet the common answer leads and the odd hosts follow.
  return [...groups.values()].sort((a, b) => b.hosts.length - a.hosts.length);
}

/** "ok" is the state `succeeded` (exit code 0, no error); anything else is a failure with a short reason. */
export function isOk(r: Result): boolean {
  return r.state === 'succeeded' && r.exit_code === 0 && r.error === undefined;
}

/** Short words for the states that say more than an exit code. */
const STATE_REASONS: Partial<Record<Result['state'], string>> = {
  timed_out: 'timed out',
  cancelled: 'cancelled',
  skipped: 'skipped',
  refused: 'refused',
  no_response: 'no answer',
};

/**
 * The reason a host failed, short enough for the summary line. Errors are
 * recognised by how the agent words them (docs/api.md, "error starts with").
 */
export function failureReason(r: Result): string {
  if (r.status === 'no_answer') return 'no answer';
  const byState = STATE_REASONS[r.state];
  if (byState) return byState;
  const e = r.error;
  if (e === undefined) return `exit ${r.exit_code}`;
  const kinds: Array<[RegExp, string]> = [
    [/^timed out/i, 'timed out'],
    [/^cancelled/i, 'cancelled'],
    [/^program not found/i, 'not found'],
    [/^permission denied/i, 'permission denied'],
    [/^working directory/i, 'bad working directory'],
    [/^killed by signal/i, 'killed'],
    [/^the agent stopped/i, 'agent stopped'],
    [/^no answer/i, 'no answer'],
  ];
  for (const [re, kind] of kinds) if (re.test(e)) return kind;
  // An error we have no short name for: its first clause, cut short.
  const first = e.split(/[;:(]/)[0]?.trim() || 'error';
  return first.length > 30 ? `${first.slice(0, 29)}…` : first;
}

/**
 * `48 ok, 2 failed: web-07 (exit 1), db-02 (timed out)`. Failed hosts with the
 * same reason are listed together and folded (`web-[01-05] (exit 1)`), so the
 * line stays one line on a large fleet.
 */
export function summaryLine(results: Result[]): string {
  const ok = results.filter(isOk).length;
  const byReason = new Map<string, string[]>();
  for (const r of results) {
    if (isOk(r)) continue;
    const reason = failureReason(r);
    byReason.set(reason, [...(byReason.get(reason) ?? []), r.hostname]);
  }
  const failed = results.length - ok;
  if (failed === 0) return `${ok} ok`;
  // Hostnames and errors come from agents: escaped, so the line stays one line of text.
  const parts = [...byReason].map(
    ([reason, hosts]) => `${escapeLine(foldHosts(hosts))} (${escapeLine(reason)})`,
  );
  return `${ok} ok, ${failed} failed: ${parts.join(', ')}`;
}

function block(raw: string, truncated: boolean): string {
  if (raw === '') return '';
  // As the program printed it, newlines and tabs; no other control reaches the terminal.
  const text = escapeText(raw);
  const body = text.endsWith('\n') ? text : `${text}\n`;
  return truncated ? `${body}[output truncated by the agent]\n` : body;
}

/** The `--group` text: a `Job ID:` line, one block per group, then the summary line. */
export function groupedText(body: CommandResponse): string {
  const blocks = groupResults(body.results).map((g) => {
    const head = `${escapeLine(foldHosts(g.hosts))} (${g.hosts.length} host${g.hosts.length === 1 ? '' : 's'})`;
    const rule = '-'.repeat(Math.min(Math.max(head.length, 16), 78));
    const lines = [rule, head, rule].join('\n');
    const stdout = block(g.stdout, g.stdout_truncated);
    const stderr = g.stderr === '' ? '' : `[stderr]\n${block(g.stderr, g.stderr_truncated)}`;
    const status =
      g.error !== undefined ? `[error: ${escapeLine(g.error)}]\n` : `[exit ${g.exit_code}]\n`;
    return `${lines}\n${stdout}${stderr}${status}`;
  });
  return `Job ID: ${escapeLine(body.job_id)}\n${blocks.join('')}${summaryLine(body.results)}\n`;
}
