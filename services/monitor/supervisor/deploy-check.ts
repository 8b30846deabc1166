import type { CopiedFile, DeployReport } from '../containers/deploy-report.ts';
import type { DependencyPlan } from '../detect/dependency-manifest.ts';
import type { DeployView, ScannedFile, WorkspaceSnapshot } from '../types.ts';

export type CopyCheck =
  | { ok: true; files: number }
  /** `problems`: the first few, for people; `count`: all of them. */
  | { ok: false; problems: string[]; count: number };

/** Problems named in a mismatch message; the rest are counted. */
const SHOWN = 3;

/**
 * Whether the container's copy holds what the scan fingerprinted: every
 * scanned file, with the same size and the same mtime (within a
 * millisecond: the copy keeps the source's timestamps, the scan rounds
 * nothing, float milliseconds differ in the last digits). Files under
 * `skipDir` are left out (the dependency cache replaces them). Files in the
 * copy that the scan did not see are fine: ignored files are copied too, and
 * a file added after the scan changes the next scan's fingerprint anyway.
 * Pure.
 */
export function checkCopy(
  expected: readonly ScannedFile[],
  copied: ReadonlyMap<string, CopiedFile>,
  skipDir?: string,
): CopyCheck {
  const problems: string[] = [];
  let checked = 0;
  for (const file of expected) {
    if (skipDir !== undefined && file.relPath.startsWith(`${skipDir}/`)) continue;
    checked += 1;
    const copy = copied.get(file.relPath);
    if (copy === undefined) problems.push(`${file.relPath}: not in the copy`);
    else if (copy.size !== file.size) {
      problems.push(`${file.relPath}: ${file.size} bytes in the scan, ${copy.size} in the copy`);
    } else if (Math.abs(copy.mtimeMs - file.mtimeMs) >= 1) {
      problems.push(
        `${file.relPath}: modified ${iso(file.mtimeMs)} in the scan, ${iso(copy.mtimeMs)} in the copy`,
      );
    }
  }
  if (problems.length === 0) return { ok: true, files: checked };
  return { ok: false, problems: problems.slice(0, SHOWN), count: problems.length };
}

export type DeployCheck = { ok: true; view: DeployView } | { ok: false; reason: string };

/**
 * Judge a started container by its report: its copy against the scan it was
 * deployed for, and what its install did. No report at all (an image that
 * does not write one) is served as `unverified`; a copy that differs is not
 * served. Pure.
 */
export function checkDeploy(
  snapshot: WorkspaceSnapshot,
  dependencies: DependencyPlan,
  report: DeployReport | undefined,
): DeployCheck {
  const deps = dependencyView(dependencies, report?.dependencies);
  if (report?.copied === undefined) {
    return { ok: true, view: { copy: 'unverified', files: 0, ...deps } };
  }
  const skipDir =
    dependencies.kind === 'cached' && dependencies.dir.startsWith('/app/')
      ? dependencies.dir.slice('/app/'.length)
      : undefined;
  const copy = checkCopy(snapshot.files, report.copied, skipDir);
  if (!copy.ok) {
    const more =
      copy.count > copy.problems.length ? `; ${copy.count - copy.problems.length} more` : '';
    return {
      ok: false,
      reason: `the copy in the container does not match the scan (${copy.problems.join('; ')}${more})`,
    };
  }
  return { ok: true, view: { copy: 'verified', files: copy.files, ...deps } };
}

function dependencyView(
  plan: DependencyPlan,
  reported: DeployReport['dependencies'],
): Pick<DeployView, 'dependencies' | 'dependencyNote'> {
  const dependencies = reported ?? 'unknown';
  switch (plan.kind) {
    case 'none':
      return { dependencies, dependencyNote: 'nothing to install' };
    case 'uncached':
      return { dependencies, dependencyNote: `installed by every container: ${plan.why}` };
    case 'cached': {
      const inputs = plan.inputs.join(', ');
      const note =
        reported === 'reused'
          ? `reused the previous container's install (${inputs} unchanged)`
          : `kept for the next container while ${inputs} stay the same`;
      return { dependencies, dependencyNote: note };
    }
  }
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
