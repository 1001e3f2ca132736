// Sizes and shares for people, shared by the CLI's tables and the web console
// (no Node-only imports here: the console bundles it for the browser).

/** 1536 → "1.5 KiB": sizes for people. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** 1 of 4 → "25%"; "-" when the whole is not known. */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '-';
}
