import { statSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BucketspaceError, errorMessage, systemErrorCode } from '../common/errors.ts';
import { listingStarted, type ObjectInfo, type ObjectStore } from '../common/s3/object-store.ts';
import { walkedFileAt, type WalkResult } from '../common/walk.ts';
import { unsafePathProblem } from '../sync/object-keys.ts';
import { downloadFile, newDirectoryChecks } from '../sync/operations/download.ts';
import { verifyAndRemember } from '../sync/operations/verify.ts';
import { PullPlanner, type PullPlan } from '../sync/plan.ts';
import { deleteRefusals, deleteVerdict } from '../sync/rails.ts';
import type { SyncState } from '../sync/sync-state.ts';
import type { ProgressSink, RemoteFile, StateEntry } from '../sync/types.ts';
import type { MirrorContext } from './mirror-context.ts';
import { addFailure, addSkip, newReport } from './mirror-report.ts';
import { prefixOf } from './location.ts';
import { excludedBy, stateKey, treeObjects, walkTree, type Target } from './target.ts';
import { applyVerdict, deletedFile, endRun, hashConcurrency, transferAll } from './transfer-run.ts';
import type { MirrorReport } from './types.ts';

export interface DownloadRun {
  /** Delete local files S3 does not have. */
  delete: boolean;
  force: boolean;
  signal: AbortSignal | undefined;
  progress: ProgressSink;
  /** The listing of the target's prefix when the caller asked for it already (Mirror.download does). */
  listing?: AsyncIterable<ObjectInfo[]>;
}

/** A download's plan, and what it was made from. */
interface Planned {
  /** The local directory: the tree's, or the single file's. */
  root: string;
  local: WalkResult;
  plan: PullPlan;
  remembered: ReadonlyMap<string, StateEntry>;
  /** What is remembered after the run: the remembered entries, updated as the run goes. */
  entries: Map<string, StateEntry>;
}

const NO_WALK: WalkResult = { files: [], skipped: [], ignored: [], errors: [] };

/**
 * S3 -> local: afterwards the local path matches S3 (the objects under the
 * prefix, or the one object). Planned like a pull: the remote listing, the
 * local walk and what was remembered, same-size files hashed; only what
 * differs is downloaded (into a temporary file, then renamed). Local files S3
 * does not have are deleted unless `delete` is off or a rail refuses (an
 * empty prefix, most of the files); the refusals are in the report.
 */
export async function mirrorDownload(
  ctx: MirrorContext,
  target: Target,
  run: DownloadRun,
): Promise<MirrorReport> {
  const started = performance.now();
  const report = newReport('download', target, false);
  const { store, state } = ctx.buckets.get(target.location.bucket);
  const { root, local, plan, remembered, entries } = await planDownload(store, state, target, {
    report,
    listing: run.listing,
    signal: run.signal,
  });
  for (const { remote: r, rule } of plan.excluded)
    addSkip(report, r.relPath, 'excluded', `in S3 but excluded by ${rule}; not downloaded`);
  const verdicts = await verifyAndRemember(plan.verify, hashConcurrency(ctx), entries);
  report.unchanged = plan.unchanged + verdicts.same.length;
  const downloads = [
    ...plan.downloads.map((d) => d.remote),
    ...[...verdicts.changed, ...verdicts.vanished].map((p) => p.remote),
  ];

  const verdict = deleteVerdict(
    deleteRefusals({
      workspace: target.location.url,
      target: 'local files',
      deletes: plan.deletes.length,
      total: local.files.length,
      maxDelete: ctx.settings.maxDelete,
      unreadable: { count: local.errors.length, first: local.errors[0] },
      ...(plan.included > 0
        ? {}
        : {
            empty: {
              rule: 'remote-empty',
              reason: `S3 has nothing under ${target.location.url} to download`,
            },
          }),
    }),
    { force: run.force, noDelete: !run.delete },
  );
  applyVerdict(ctx, report, verdict);

  const transfer = { store, signal: run.signal };
  const checkedDirs = newDirectoryChecks();
  await transferAll(
    { ctx, report, progress: run.progress, signal: run.signal },
    `download ${target.location.url}`,
    downloads.map((r) => ({
      ...r,
      object: `s3://${store.bucket}/${r.key}`,
      path: join(root, r.relPath),
    })),
    async (r) => {
      const entry = await downloadFile(transfer, {
        root,
        relPath: r.relPath,
        key: r.key,
        listedEtag: r.etag,
        listedSize: r.size,
        checkedDirs,
      });
      entries.set(r.relPath, entry);
    },
  );

  if (verdict.blockedBy === undefined) {
    for (const file of plan.deletes) {
      try {
        await rm(file.absPath);
        entries.delete(file.relPath);
        deletedFile(ctx, report, {
          object: `${target.location.url}/${file.relPath}`,
          path: file.absPath,
        });
      } catch (err) {
        addFailure(
          report,
          file.relPath,
          'LOCAL_UNREADABLE',
          `could not delete: ${systemErrorCode(err) ?? errorMessage(err)}`,
        );
      }
    }
  }
  return endRun(
    report,
    started,
    { sync: state, key: stateKey(target), before: remembered },
    entries,
  );
}

/**
 * Plans a download page by page as the listing arrives: each page is
 * planned while the next is on its way, so little is left when the last one
 * comes. The listing decides the shape: objects under `key/` make a tree;
 * with none, an object named `key` is a single file; with neither, an empty
 * tree (and the empty-remote rail keeps local files). Keys that would not be
 * safe local paths are skipped, in the report.
 */
async function planDownload(
  store: ObjectStore,
  state: SyncState,
  target: Target,
  run: {
    report: MirrorReport;
    listing: AsyncIterable<ObjectInfo[]> | undefined;
    signal: AbortSignal | undefined;
  },
): Promise<Planned> {
  const { location, local } = target;
  const { report, signal } = run;
  const prefix = prefixOf(location);
  // The listing is asked for first (unless the caller did): it takes longest. What was
  // remembered is read, and an existing directory walked, while it is on its way (it is a
  // tree unless the listing is empty and the key is one object: then the walk is not used).
  const pages = run.listing ?? listingStarted(store, prefix, signal);
  const remembering = state.load(stateKey(target));
  remembering.catch(() => undefined); // awaited below, unless the listing fails first
  const walking = statSync(local, { throwIfNoEntry: false })?.isDirectory()
    ? walkTree(target, signal)
    : undefined;
  walking?.catch(() => undefined); // awaited below, unless the key is one object

  const planning = async (
    root: string,
    walk: WalkResult,
    excluded: (relPath: string) => string | undefined,
  ) => {
    const remembered = await remembering;
    const entries = new Map(remembered);
    const planner = new PullPlanner({ local: walk.files, state: entries, excluded });
    const add = (r: RemoteFile) => {
      const problem = unsafePathProblem(r.relPath);
      if (problem === undefined) planner.add(r);
      else
        addSkip(report, r.relPath, 'unsafe-key', `in S3, but never written locally: it ${problem}`);
    };
    const finish = (): Planned => ({
      root,
      local: walk,
      plan: planner.finish(),
      remembered,
      entries,
    });
    return { add, finish };
  };
  const tree = async () => {
    await ensureDirectory(local, location.url);
    const { filter, walk } = await (walking ?? walkTree(target, signal));
    return planning(local, walk, (relPath) => excludedBy(filter, relPath));
  };

  type Planning = Awaited<ReturnType<typeof planning>>;
  // The first tree object starts the plan (the walk may still be running): pages that come
  // before it is ready wait in `held`, and the listing goes on meanwhile.
  let starting: Promise<Planning> | undefined;
  let ready: Planning | undefined;
  let failed = false;
  const held: RemoteFile[] = [];
  for await (const page of pages) {
    const files = treeObjects(page, prefix);
    if (files.length === 0) continue;
    if (starting === undefined) {
      starting = tree();
      starting.then(
        (p) => (ready = p),
        () => (failed = true), // thrown below
      );
    }
    if (failed) break;
    if (ready === undefined) held.push(...files);
    else for (const r of [...held.splice(0), ...files]) ready.add(r);
  }
  let planned = starting && (await starting);
  for (const r of held) planned?.add(r);
  if (planned === undefined && location.key !== '') {
    const object = await store.head(location.key, signal);
    if (object !== undefined) {
      const relPath = basename(local);
      const file = await walkedFileAt(local, relPath);
      planned = await planning(
        dirname(local),
        { ...NO_WALK, files: file === undefined ? [] : [file] },
        () => undefined,
      );
      planned.add({ ...object, relPath });
    }
  }
  return (planned ?? (await tree())).finish();
}

/** The local directory of a tree, created when missing; a file in its place is an error. */
export async function ensureDirectory(path: string, url: string): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) return;
  if (info !== undefined)
    throw new BucketspaceError(
      'LOCAL_UNREADABLE',
      `${path} is a file, but ${url} is a prefix in S3: pass another local path`,
      { details: { path, url } },
    );
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw new BucketspaceError(
      'LOCAL_UNREADABLE',
      `cannot create ${path}: ${systemErrorCode(err) ?? errorMessage(err)}`,
      { cause: err, details: { path } },
    );
  }
}
