import type { RuleRef } from '../common/ignore/types.ts';
import type { WalkResult } from '../common/walk.ts';
import { restoreCommand, trashPrefix } from '../common/trash-names.ts';
import { validateWorkspaceName } from '../common/workspace-name.ts';
import type { FailedFile, PlanLine, SkippedFile, SyncSummary } from './types.ts';
import { formatBytes } from '../common/format-bytes.ts';

// ---- the summary ------------------------------------------------------------

export function emptySummary(direction: 'push' | 'pull', dryRun: boolean): SyncSummary {
  return {
    direction,
    dryRun,
    workspaces: 0,
    uploaded: 0,
    downloaded: 0,
    deleted: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    seconds: 0,
    failures: [],
    skips: [],
    refusals: [],
    overridden: [],
    keptWorkspaces: [],
    trashed: [],
    purged: [],
    unservable: [],
  };
}

/**
 * Workspaces whose names the monitor cannot run (validateWorkspaceName:
 * `UPPER`, `api`, 64+ characters...): they are synced all the same, and
 * said so in the summary and the plan.
 */
export function noteUnservable(
  summary: SyncSummary,
  lines: PlanLine[],
  workspaces: readonly string[],
): void {
  for (const workspace of workspaces) {
    const reason = validateWorkspaceName(workspace);
    if (reason === undefined) continue;
    summary.unservable.push({ workspace, reason });
    lines.push({ action: 'note', workspace, path: '', reason: `${UNSERVABLE}: ${reason}` });
  }
}

/** How a workspace the monitor cannot run is announced. */
export const UNSERVABLE = 'synced, but the monitor will not run it';

/** A file that failed, named in the summary (exit 1). */
export function addFailure(summary: SyncSummary, failure: FailedFile): void {
  summary.failed += 1;
  summary.failures.push(failure);
}

/** A file deliberately left out, named in the summary. */
export function addSkip(summary: SyncSummary, skip: SkippedFile): void {
  summary.skipped += 1;
  summary.skips.push(skip);
}

/**
 * What a walk left out, into the summary: unreadable files and names that are
 * not UTF-8 are failures (their remote copies are kept), the rest skips;
 * directories that could not be read are failures. Returns the skips that are
 * not failures (to be logged).
 */
export function addWalkProblems(
  summary: SyncSummary,
  workspace: string,
  walk: WalkResult,
): SkippedFile[] {
  const skipped: SkippedFile[] = [];
  for (const s of walk.skipped) {
    const skip = { workspace, path: s.relPath, reason: s.reason, message: s.message };
    if (s.reason === 'unreadable' || s.reason === 'invalid-name') {
      summary.skips.push(skip);
      addFailure(summary, {
        workspace,
        path: s.relPath,
        code: s.reason === 'unreadable' ? 'LOCAL_UNREADABLE' : 'LOCAL_INVALID_NAME',
        message: s.message,
      });
    } else {
      addSkip(summary, skip);
      skipped.push(skip);
    }
  }
  for (const e of walk.errors)
    addFailure(summary, {
      workspace,
      path: e.relPath,
      code: 'LOCAL_UNREADABLE',
      message: e.message,
    });
  return skipped;
}

/** What planning one workspace added to its own summary, added to the run's. */
export function mergePlanning(summary: SyncSummary, part: SyncSummary): void {
  summary.failed += part.failed;
  summary.skipped += part.skipped;
  summary.failures.push(...part.failures);
  summary.skips.push(...part.skips);
  summary.refusals.push(...part.refusals);
}

/** The fields of the one log line that ends a run. */
export function summaryLogFields(s: SyncSummary): Record<string, number> {
  return {
    ...(s.direction === 'push' ? { uploaded: s.uploaded } : { downloaded: s.downloaded }),
    deleted: s.deleted,
    unchanged: s.unchanged,
    failed: s.failed,
    skipped: s.skipped,
    bytes: s.bytes,
    seconds: Number(s.seconds.toFixed(3)),
  };
}

// ---- plan lines ------------------------------------------------------------

/**
 * The line of a planned deletion: `action` when it happens, `keep` with why
 * not when the run's deletions are blocked.
 */
export function deleteLine(
  action: 'delete' | 'delete-local',
  item: { workspace: string; path: string; reason: string },
  blockedBy: string | undefined,
): PlanLine {
  return blockedBy === undefined
    ? { action, ...item }
    : { action: 'keep', ...item, reason: `${item.reason}; not deleted (${blockedBy})` };
}

/** `source:line:pattern`, as `git check-ignore -v` prints a rule. */
export function formatRule(rule: Pick<RuleRef, 'source' | 'line' | 'pattern'> | undefined): string {
  return rule ? `${rule.source}:${rule.line}:${rule.pattern}` : '(no rule)';
}

// ---- text --------------------------------------------------------------------

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
  for (const u of s.unservable) out.push(`  note     ${u.workspace}/: ${UNSERVABLE}: ${u.reason}`);
  for (const w of s.keptWorkspaces) {
    out.push(
      `  kept     ${w}/: no local directory; SYNC_DELETE_MISSING_WORKSPACES=false keeps it in the bucket (--delete-missing-workspaces moves it to the trash)`,
    );
  }
  for (const t of s.trashed)
    out.push(
      `  trashed  ${t.workspace}/: ${t.objects} objects (${formatBytes(t.bytes)}) moved to ${trashPrefix(t.workspace, t.entry)}; restore: ${restoreCommand(t.workspace, t.entry)}`,
    );
  for (const p of s.purged)
    out.push(
      `  purged   ${trashPrefix(p.workspace, p.entry)}: ${p.objects} objects, older than the trash retention`,
    );
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
