import type { HealthResult, MountEvent, MountRecord } from './types.ts';

function health(rec: MountRecord): string {
  if (rec.healthy === null) return '-';
  return rec.healthy ? 'ok' : 'FAILING';
}

/** `mount list`: one row per mount. */
export function formatMountList(records: MountRecord[]): string {
  if (records.length === 0) return 'no mounts (add one with `bucketspace mount add <bucket>`)';
  const rows = [
    ['BUCKET', 'STATE', 'HEALTH', 'PID', 'ENGINE', 'AUTO', 'MOUNT POINT', 'LINKS'],
    ...records.map((r) => [
      r.bucket,
      r.state,
      health(r),
      r.pid === null ? '-' : String(r.pid),
      r.engine,
      r.auto ? 'yes' : 'no',
      r.mountPoint,
      r.links.map((l) => l.path).join(', ') || '-',
    ]),
  ];
  const widths =
    rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

/** `mount status`: everything about one mount, the live check, recent events. */
export function formatMountStatus(
  rec: MountRecord,
  check: HealthResult,
  events: MountEvent[],
): string {
  const source =
    rec.source.kind === 'remote'
      ? `rclone remote ${rec.source.name}`
      : `${rec.source.endpoint ?? 'AWS S3'} (${rec.source.region})`;
  const o = rec.options;
  const lines = [
    `s3://${rec.bucket}: ${check.healthy ? 'mounted and answering' : `NOT healthy (${check.reason ?? 'unknown'})`}`,
    `  state       ${rec.state}${rec.pid !== null ? ` (pid ${rec.pid})` : ''}`,
    `  mount point ${rec.mountPoint}`,
    `  engine      ${rec.engine}, from ${source}`,
    `  options     ${o.readOnly ? 'read-only' : 'read-write'}, cache ${o.cacheMode}${o.cacheSize ? ` up to ${o.cacheSize}` : ''}${o.dirCacheMs !== null ? `, dir cache ${o.dirCacheMs}ms` : ''}${o.excludes.length > 0 ? `, excludes ${o.excludes.join(' ')}` : ''}${rec.auto ? ', auto-mounted by the daemon' : ''}`,
    ...(rec.links.length > 0
      ? rec.links.map(
          (l, i) => `  ${i === 0 ? 'links      ' : '           '} ${l.path} -> ${rec.mountPoint}`,
        )
      : ['  links       (none)']),
    `  failures    ${rec.failures}${rec.lastError ? `, last at ${rec.lastErrorAt ?? '?'}: ${rec.lastError}` : ''}`,
  ];
  if (events.length > 0) {
    lines.push('  recent events:');
    for (const e of events.slice(0, 5)) lines.push(`    ${e.at} ${e.kind}: ${e.message}`);
  }
  return lines.join('\n');
}
