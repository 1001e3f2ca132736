// Host lists for people, shared by the CLI's output and the web console
// (no Node-only imports here: the console bundles it for the browser).

/**
 * Folds hostnames that differ only in a trailing number of the same width into
 * ranges, as clush's node sets do: web-01,web-02,web-03,db-1 → web-[01-03],db-1.
 */
export function foldHosts(hosts: string[]): string {
  const byPrefix = new Map<string, { width: number; nums: number[] }>();
  const out: Array<string | { key: string }> = [];
  for (const h of hosts) {
    const m = /^(.*\D|)(\d+)$/.exec(h);
    if (!m) {
      out.push(h);
      continue;
    }
    const [, prefix = '', digits = ''] = m;
    const key = `${prefix}\0${digits.length}`;
    let entry = byPrefix.get(key);
    if (!entry) {
      entry = { width: digits.length, nums: [] };
      byPrefix.set(key, entry);
      out.push({ key });
    }
    entry.nums.push(Number(digits));
  }
  return out
    .map((item) => {
      if (typeof item === 'string') return item;
      const prefix = item.key.slice(0, item.key.indexOf('\0'));
      const { width, nums } = byPrefix.get(item.key) ?? { width: 0, nums: [] };
      const pad = (n: number) => String(n).padStart(width, '0');
      const sorted = [...new Set(nums)].sort((a, b) => a - b);
      if (sorted.length === 1) return `${prefix}${pad(sorted[0] ?? 0)}`;
      const ranges: string[] = [];
      let start = sorted[0] ?? 0;
      let prev = start;
      for (const n of [...sorted.slice(1), Number.NaN]) {
        if (n === prev + 1) {
          prev = n;
          continue;
        }
        ranges.push(start === prev ? pad(start) : `${pad(start)}-${pad(prev)}`);
        start = n;
        prev = n;
      }
      return `${prefix}[${ranges.join(',')}]`;
    })
    .join(',');
}
