import { BucketspaceError, type ErrorCode } from '../common/errors.ts';
import { keepsRemoteCopy, type WalkResult } from '../common/walk.ts';
import type { MirrorReport } from './types.ts';
import type { Target } from './target.ts';

export function newReport(
  operation: MirrorReport['operation'],
  target: Target,
  background: boolean,
): MirrorReport {
  return {
    operation,
    remote: target.location.url,
    local: target.local,
    background,
    transferred: 0,
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
  };
}

export function addFailure(report: MirrorReport, path: string, code: string, message: string) {
  report.failed += 1;
  report.failures.push({ path, code, message });
}

export function addSkip(report: MirrorReport, path: string, reason: string, message: string) {
  report.skipped += 1;
  report.skips.push({ path, reason, message });
}

/**
 * What a local walk left out: files that exist but could not be read (their
 * remote copies are kept) and directories that could not be read are
 * failures; the rest (symlinks that leave the path, special files, ...) skips.
 */
export function addWalkProblems(report: MirrorReport, walk: WalkResult): void {
  for (const s of walk.skipped) {
    if (keepsRemoteCopy(s))
      addFailure(
        report,
        s.relPath,
        s.reason === 'unreadable' ? 'LOCAL_UNREADABLE' : 'LOCAL_INVALID_NAME',
        s.message,
      );
    else addSkip(report, s.relPath, s.reason, s.message);
  }
  for (const e of walk.errors) addFailure(report, e.relPath, 'LOCAL_UNREADABLE', e.message);
}

const SHOWN_FAILURES = 5;

/**
 * The error a run's caller gets when the local path and S3 do not match at
 * its end: a safety rail withheld deletions (SAFETY_REFUSED, with the rail's
 * code in `details.rule`), or files failed (the code of the first failure,
 * each failure in `details.report`). Undefined when everything was done.
 */
export function reportError(report: MirrorReport): BucketspaceError | undefined {
  const what =
    report.operation === 'download'
      ? `download ${report.remote} -> ${report.local}`
      : `upload ${report.local} -> ${report.remote}`;
  if (report.refusals.length > 0) {
    const rules = report.refusals.map((r) => r.rule);
    return new BucketspaceError(
      'SAFETY_REFUSED',
      `${what}: nothing deleted: ${report.refusals.map((r) => `${r.message} [${r.rule}]`).join('; ')}. Pass force: true (--force) to delete anyway`,
      { details: { rule: rules[0], rules, report } },
    );
  }
  if (report.failed > 0) {
    // Per-key delete failures carry S3's own codes (AccessDenied); ours are UPPER_SNAKE.
    const code = report.failures.map((f) => f.code).find((c) => /^[A-Z][A-Z0-9_]*$/.test(c));
    const listed = report.failures
      .slice(0, SHOWN_FAILURES)
      .map((f) => `${f.path || '.'} (${f.code}: ${f.message})`);
    const more =
      report.failed > SHOWN_FAILURES ? ` and ${report.failed - SHOWN_FAILURES} more` : '';
    return new BucketspaceError(
      (code ?? 'S3_CLIENT') as ErrorCode,
      `${what}: ${report.failed} files failed: ${listed.join(', ')}${more}`,
      { details: { report } },
    );
  }
  return undefined;
}
