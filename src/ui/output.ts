// Command output as the console shows it: lines in the order they came, each
// with its host and stream, from pieces that need not end at a line; and
// hosts with the same output folded together. Pure: no DOM.

export type OutputStream = 'stdout' | 'stderr';

export interface OutputLine {
  host: string;
  stream: OutputStream;
  text: string;
  /** The host's last piece did not end the line yet. */
  partial?: boolean;
}

/** Lines kept for the live view; a host's whole output is in the job's detail. */
export const MAX_LINES = 5000;

export class OutputLog {
  private done: OutputLine[] = [];
  private pending = new Map<string, OutputLine>();
  private whole = new Map<string, { stdout: string; stderr: string }>();
  /** Lines dropped from the front to stay within MAX_LINES. */
  dropped = 0;

  /** Adds a piece of output as a host wrote it. */
  add(host: string, stream: OutputStream, data: string): void {
    const text = this.whole.get(host) ?? { stdout: '', stderr: '' };
    text[stream] += data;
    this.whole.set(host, text);
    const key = `${host}\0${stream}`;
    const parts = data.split('\n');
    const head = this.pending.get(key)?.text ?? '';
    parts[0] = head + (parts[0] ?? '');
    const last = parts.pop() ?? '';
    for (const line of parts) this.done.push({ host, stream, text: line });
    if (last === '') this.pending.delete(key);
    else this.pending.set(key, { host, stream, text: last, partial: true });
    if (this.done.length > MAX_LINES) {
      const extra = this.done.length - MAX_LINES;
      this.done.splice(0, extra);
      this.dropped += extra;
    }
  }

  /** The host has ended: a line it left unfinished is complete as it is. */
  finish(host: string): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const key = `${host}\0${stream}`;
      const line = this.pending.get(key);
      if (line) this.done.push({ host, stream, text: line.text });
      this.pending.delete(key);
    }
  }

  /** Whether any output of this host and stream came in. */
  has(host: string, stream: OutputStream): boolean {
    return (this.whole.get(host)?.[stream] ?? '') !== '';
  }

  /** Every complete line, then the lines still being written. */
  lines(): OutputLine[] {
    return [...this.done, ...this.pending.values()];
  }

  /** Everything a host wrote so far, per stream. */
  text(host: string): { stdout: string; stderr: string } {
    return this.whole.get(host) ?? { stdout: '', stderr: '' };
  }
}

export interface HostOutput {
  host: string;
  stdout: string;
  stderr: string;
  /** The host's state; hosts in different states are never folded together. */
  state: string;
}

export interface OutputGroup {
  hosts: string[];
  stdout: string;
  stderr: string;
  state: string;
}

/** Hosts with the same stdout, stderr and state share a group; the largest group first. */
export function groupOutputs(outputs: readonly HostOutput[]): OutputGroup[] {
  const groups = new Map<string, OutputGroup>();
  for (const o of outputs) {
    const key = JSON.stringify([o.stdout, o.stderr, o.state]);
    const g = groups.get(key);
    if (g) g.hosts.push(o.host);
    else groups.set(key, { hosts: [o.host], stdout: o.stdout, stderr: o.stderr, state: o.state });
  }
  return [...groups.values()].sort((a, b) => b.hosts.length - a.hosts.length);
}

/** One of eight colours per host: distinct for the first eight, in hostname order. */
export function hostColours(hosts: Iterable<string>): Map<string, number> {
  const sorted = [...new Set(hosts)].sort();
  return new Map(sorted.map((h, i) => [h, i % 8]));
}
