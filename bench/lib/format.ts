/** A plain-text table; the first row is the header, columns after the first are right-aligned. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join(' | ');
  const [header, ...body] = rows;
  if (!header) return '';
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(header), rule, ...body.map(line)].join('\n');
}

export function fmtSeconds(s: number | undefined): string {
  if (s === undefined || Number.isNaN(s)) return 'n/a';
  return s < 10 ? s.toFixed(2) : s.toFixed(1);
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return 'n/a';
  return ms === Number.POSITIVE_INFINITY ? 'timeout' : String(Math.round(ms));
}

export function fmtMiB(kib: number | undefined): string {
  return kib === undefined || Number.isNaN(kib) ? 'n/a' : (kib / 1024).toFixed(0);
}

export function fmtCount(n: number | undefined): string {
  return n === undefined || Number.isNaN(n) ? 'n/a' : n.toLocaleString('en-US');
}

export function fmtRatio(ours: number | undefined, theirs: number | undefined): string {
  if (
    ours === undefined ||
    theirs === undefined ||
    Number.isNaN(ours) ||
    Number.isNaN(theirs) ||
    theirs === 0
  ) {
    return 'n/a';
  }
  return `${(ours / theirs).toFixed(2)}x`;
}

export function fmtBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function passFail(ok: boolean): 'PASS' | 'FAIL' {
  return ok ? 'PASS' : 'FAIL';
}
