import type { PlanLine } from './push.ts';
import type { SyncSummary } from './types.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** The plan of a dry run, one line per action. */
export function formatPlan(lines: readonly PlanLine[]): string {
  const out: string[] = [];
  for (const l of lines) {
    const path = l.path === '' ? `${l.workspace}/` : `${l.workspace}/${l.path}`;
    const size = l.bytes !== undefined ? `, ${formatBytes(l.bytes)}` : '';
    out.push(`${l.action.padEnd(12)} ${path}  (${l.reason}${size})`);
  }
  return out.join('\n');
}

/** The human summary printed at the end of a run. */
export function formatSummary(s: SyncSummary): string {
  const out: string[] = [];
  const verb = s.dryRun ? 'would ' : '';
  const moved =
    s.direction === 'push' ? `${verb}upload ${s.uploaded}` : `${verb}download ${s.downloaded}`;
  out.push(
    `${s.dryRun ? 'dry run: ' : ''}${s.workspaces} workspaces: ${moved} (${formatBytes(s.bytes)}), ${verb}delete ${s.deleted}, unchanged ${s.unchanged}, skipped ${s.skipped}, failed ${s.failed} in ${s.seconds.toFixed(2)}s`,
  );
  for (const f of s.failures)
    out.push(`  failed   ${f.workspace}/${f.path}: ${f.message} [${f.code}]`);
  for (const k of s.skips.filter((x) => x.reason !== 'unreadable' && x.reason !== 'invalid-name')) {
    out.push(`  skipped  ${k.workspace}/${k.path}: ${k.message}`);
  }
  for (const w of s.keptWorkspaces) {
    out.push(
      `  kept     ${w}/: no local directory; pass --delete-missing-workspaces to remove it from the bucket`,
    );
  }
  for (const r of s.overridden)
    out.push(`  forced   ${r.message} (--force overrode this safety rail)`);
  for (const r of s.refusals) out.push(`  REFUSED  ${r.message}`);
  if (s.refusals.length > 0) {
    out.push(
      '  Nothing was deleted. Fix the cause, or re-run with --force to delete anyway, or --max-delete to raise the limit.',
    );
  }
  return out.join('\n');
}
