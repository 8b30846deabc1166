import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { asBucketspaceError } from '../common/errors.ts';
import { workspaceArgumentProblem } from '../common/workspace-name.ts';
import { explainPath, isIgnoreFile, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { walkWorkspace, type WalkedFile, type WalkResult } from '../common/walk.ts';
import { unsafeKeyProblem } from './object-keys.ts';
import { readObjectText } from './operations/download.ts';
import { verifyAndRemember } from './operations/verify.ts';
import { planPull } from './plan.ts';
import { deleteRefusals } from './rails.ts';
import { addFailure, addSkip, formatRule } from './report.ts';
import type { SyncContext } from './sync-context.ts';
import type { PlanLine, Refusal, RemoteFile, StateEntry, SyncSummary } from './types.ts';

// The planning half of a pull (pull.ts runs it): each workspace's rules as the
// bucket has them, its local walk, the diff, same-size hashing and the rails.

export interface Download {
  workspace: string;
  remote: RemoteFile;
  reason: string;
}

/** One workspace, planned for a pull. */
export interface PullWork {
  name: string;
  downloads: Download[];
  deletes: WalkedFile[];
  refusals: Refusal[];
  state: Map<string, StateEntry>;
}

/**
 * The listing without the keys a pull must never write (unsafeKeyProblem:
 * `..` segments, NUL, a workspace named `..` or `.x`, ...): each is skipped
 * and named in the summary and the plan. Workspaces left with nothing are
 * dropped only when their name itself is unsafe.
 */
export function withoutUnsafeKeys(
  remoteByWs: ReadonlyMap<string, RemoteFile[]>,
  summary: SyncSummary,
  lines: PlanLine[],
): Map<string, RemoteFile[]> {
  const safe = new Map<string, RemoteFile[]>();
  for (const [workspace, files] of remoteByWs) {
    const kept: RemoteFile[] = [];
    for (const file of files) {
      const problem = unsafeKeyProblem(file.key);
      if (problem === undefined) {
        kept.push(file);
        continue;
      }
      const why = `key ${JSON.stringify(file.key)} ${problem}`;
      addSkip(summary, {
        workspace,
        path: file.relPath,
        reason: 'unsafe-key',
        message: `in the bucket, but never written locally: its ${why}`,
      });
      lines.push({ action: 'skip', workspace, path: file.relPath, reason: `unsafe: ${why}` });
    }
    if (kept.length > 0 || workspaceArgumentProblem(workspace) === undefined)
      safe.set(workspace, kept);
  }
  return safe;
}

/** The rules in the bucket, the local walk and state; the diff, hashing when needed, and the rails. */
export async function planWorkspace(
  ctx: SyncContext,
  name: string,
  remote: RemoteFile[],
  summary: SyncSummary,
  lines: PlanLine[],
): Promise<PullWork | undefined> {
  const root = join(ctx.workspacesDir, name);
  let filter: WorkspaceFilter;
  let walk: WalkResult;
  try {
    filter = await remoteFilter(ctx, remote);
    const exists = await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    walk = exists
      ? await walkWorkspace({ root, filter, signal: ctx.signal })
      : { files: [], skipped: [], ignored: [], errors: [] };
  } catch (err) {
    const e = asBucketspaceError(err);
    addFailure(summary, { workspace: name, path: '', code: e.code, message: e.message });
    summary.refusals.push({
      workspace: name,
      rule: 'walk-errors',
      message: `${name}: ${e.message}; nothing pulled into this workspace`,
      deletesWithheld: 0,
    });
    return undefined;
  }
  const state = await ctx.state.load(name);
  const plan = planPull({
    local: walk.files,
    remote,
    state,
    excluded: (relPath) => {
      const why = explainPath(filter, relPath, false);
      return why.ignored ? formatRule(why.rule) : undefined;
    },
  });
  for (const { remote: r, rule } of plan.excluded) {
    addSkip(summary, {
      workspace: name,
      path: r.relPath,
      reason: 'excluded',
      message: `in the bucket but excluded by ${rule}; not pulled`,
    });
    lines.push({ action: 'skip', workspace: name, path: r.relPath, reason: `excluded by ${rule}` });
  }
  summary.unchanged += plan.unchanged;
  const downloads: Download[] = plan.downloads.map((d) => ({ workspace: name, ...d }));
  const verdicts = await verifyAndRemember(plan.verify, 8, state);
  summary.unchanged += verdicts.same.length;
  for (const { remote: r } of [...verdicts.changed, ...verdicts.vanished])
    downloads.push({ workspace: name, remote: r, reason: 'content differs' });
  downloads.sort((a, b) => (a.remote.relPath < b.remote.relPath ? -1 : 1));
  const refusals = deleteRefusals({
    workspace: name,
    target: 'local files',
    deletes: plan.deletes.length,
    total: walk.files.length,
    maxDelete: ctx.maxDelete,
    unreadable: { count: walk.errors.length, first: walk.errors[0] },
    ...(plan.included > 0
      ? {}
      : {
          empty: {
            rule: 'remote-empty',
            reason: 'nothing in the bucket is pulled into this workspace',
          },
        }),
  });
  return { name, downloads, deletes: plan.deletes, refusals, state };
}

/** The workspace's filter as the bucket has it: its ignore files, read from there. */
async function remoteFilter(
  ctx: SyncContext,
  remote: readonly RemoteFile[],
): Promise<WorkspaceFilter> {
  const files = new Map<string, string>();
  for (const r of remote.filter((o) => isIgnoreFile(o.relPath)))
    files.set(r.relPath, await readObjectText(ctx, r.key));
  return WorkspaceFilter.fromIgnoreFiles(files, { extraExcludes: ctx.extraExcludes });
}
