// How the console writes times and counts (sizes and shares: src/format/units.ts, shared with the CLI). Pure functions.

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function ago(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${age(Math.max(0, Math.round((now - t) / 1000)))} ago`;
}

/** Seconds as "4 s", "3 min", "2 h", "5 d". */
export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** A local date and time to the second, for titles and the audit log. */
export function when(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "1 host", "3 hosts". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The end of a UUID, enough to tell jobs apart on a screen. Job ids are
 * time-ordered (v7): their first digits are the clock, the same for jobs
 * made moments apart, and their last ones random.
 */
export function shortId(id: string): string {
  return id.slice(-8);
}

/** Counts of each value, in order of first appearance: "2 succeeded, 1 failed". */
export function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([v, n]) => `${n} ${v.replaceAll('_', ' ')}`).join(', ');
}
