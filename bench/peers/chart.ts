// A dependency-free SVG line chart of median latency against host count, one
// panel per command, log scales on both axes (the tools differ by orders of
// magnitude, and N spans 1 to 50).

export interface Series {
  label: string;
  /** Dashed for warm ssh, solid otherwise; ours drawn thicker. */
  style: 'ours' | 'cold' | 'warm';
  color: string;
  /** [N, median ms] */
  points: [number, number][];
}

export interface Panel {
  title: string;
  series: Series[];
}

const W = 460;
const H = 340;
const M = { left: 62, right: 16, top: 34, bottom: 44 };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/`/g, '');

function fmtMs(v: number): string {
  return v >= 1000 ? `${v / 1000} s` : `${v} ms`;
}

function panelSvg(panel: Panel, ns: number[], yMin: number, yMax: number, x0: number): string {
  const lx = (n: number) =>
    x0 +
    M.left +
    ((Math.log10(n) - Math.log10(ns[0] ?? 1)) /
      (Math.log10(ns[ns.length - 1] ?? 10) - Math.log10(ns[0] ?? 1))) *
      (W - M.left - M.right);
  const ly = (v: number) =>
    M.top +
    (1 - (Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (H - M.top - M.bottom);
  const parts: string[] = [];
  parts.push(
    `<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(panel.title)}</text>`,
  );
  // Grid: 1, 2, 5 × powers of ten within range.
  for (let p = Math.floor(Math.log10(yMin)); p <= Math.ceil(Math.log10(yMax)); p++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** p;
      if (v < yMin || v > yMax) continue;
      const y = ly(v).toFixed(1);
      parts.push(
        `<line x1="${x0 + M.left}" x2="${x0 + W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
        `<text x="${x0 + M.left - 6}" y="${y}" dy="4" text-anchor="end" font-size="11">${fmtMs(v)}</text>`,
      );
    }
  }
  for (const n of ns) {
    const x = lx(n).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`,
      `<text x="${x}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${n}</text>`,
    );
  }
  parts.push(
    `<text x="${x0 + (M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">hosts (N)</text>`,
    `<text transform="translate(${x0 + 12} ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">median latency</text>`,
    `<rect x="${x0 + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#888"/>`,
  );
  for (const s of panel.series) {
    const pts = s.points.filter(([, v]) => Number.isFinite(v) && v > 0);
    if (pts.length === 0) continue;
    const d = pts.map(([n, v]) => `${lx(n).toFixed(1)},${ly(v).toFixed(1)}`).join(' ');
    const dash = s.style === 'warm' ? ' stroke-dasharray="6 4"' : '';
    const width = s.style === 'ours' ? 3 : 1.6;
    parts.push(
      `<polyline points="${d}" fill="none" stroke="${s.color}" stroke-width="${width}"${dash}/>`,
    );
    for (const [n, v] of pts) {
      parts.push(
        `<circle cx="${lx(n).toFixed(1)}" cy="${ly(v).toFixed(1)}" r="3" fill="${s.color}"/>`,
      );
    }
  }
  return parts.join('\n');
}

/** The whole chart: panels side by side, one legend below them. */
export function latencyChart(title: string, panels: Panel[], ns: number[]): string {
  const values = panels.flatMap((p) =>
    p.series.flatMap((s) => s.points.map(([, v]) => v).filter((v) => Number.isFinite(v) && v > 0)),
  );
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const series = panels[0]?.series ?? [];
  const legendRows = Math.ceil(series.length / 2);
  const width = W * panels.length;
  const height = H + 30 + legendRows * 18 + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
  ];
  panels.forEach((p, i) => {
    parts.push(panelSvg(p, ns, yMin, yMax, i * W));
  });
  // Column by column: ours first, then the peers in the tables' order.
  series.forEach((s, i) => {
    const col = i < legendRows ? 0 : 1;
    const row = i % legendRows;
    const x = M.left + col * (width / 2);
    const y = H + 22 + row * 18;
    const dash = s.style === 'warm' ? ' stroke-dasharray="6 4"' : '';
    const sw = s.style === 'ours' ? 3 : 1.6;
    parts.push(
      `<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${sw}"${dash}/>`,
      `<text x="${x + 34}" y="${y}" dy="4" font-size="12">${esc(s.label)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
