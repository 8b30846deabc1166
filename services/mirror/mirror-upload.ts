import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { BucketspaceError, isBucketspaceError } from '../common/errors.ts';
import type { ObjectStore } from '../common/s3/object-store.ts';
import { keepsRemoteCopy, walkedFileAt, type WalkResult } from '../common/walk.ts';
import { deleteObjects } from '../sync/operations/delete.ts';
import { stateAfterPush } from '../sync/operations/state.ts';
import { uploadFile } from '../sync/operations/upload.ts';
import { verifyAndRemember } from '../sync/operations/verify.ts';
import { planPush } from '../sync/plan.ts';
import { deleteRefusals, deleteVerdict } from '../sync/rails.ts';
import type { ProgressSink, RemoteFile } from '../sync/types.ts';
import type { MirrorContext } from './mirror-context.ts';
import { addFailure, addWalkProblems, newReport } from './mirror-report.ts';
import { prefixOf } from './location.ts';
import { excludedBy, remoteTree, stateKey, walkTree, type Target } from './target.ts';
import { applyVerdict, deletedFile, endRun, hashConcurrency, transferAll } from './transfer-run.ts';
import type { MirrorReport } from './types.ts';

export interface UploadRun {
  /** Delete objects the local path does not have. */
  delete: boolean;
  force: boolean;
  /** Started by the interval (events say so). */
  background: boolean;
  signal: AbortSignal | undefined;
  progress: ProgressSink;
}

interface Sides {
  local: WalkResult;
  remote: RemoteFile[];
  keyOf: (relPath: string) => string;
}

/**
 * Local -> S3: afterwards the prefix (or the one object) matches the local
 * path. Planned like a push: the local walk, the listing and what was
 * remembered; a file whose stat and ETag are unchanged is neither read nor
 * sent, a same-size one is hashed. Objects the local path lacks are deleted
 * after the uploads, unless `delete` is off or a rail refuses (an empty local
 * directory, most of the objects).
 */
export async function mirrorUpload(
  ctx: MirrorContext,
  target: Target,
  run: UploadRun,
): Promise<MirrorReport> {
  const started = performance.now();
  const report = newReport('upload', target, run.background);
  const { store, state } = ctx.buckets.get(target.location.bucket);
  const sides = await uploadSides(store, target, run.signal);
  addWalkProblems(report, sides.local);
  const remembered = await state.load(stateKey(target));
  const entries = new Map(remembered);
  const plan = planPush({
    workspace: target.location.url,
    local: sides.local.files,
    remote: sides.remote,
    state: entries,
    protectedPaths: new Set(sides.local.skipped.filter(keepsRemoteCopy).map((s) => s.relPath)),
    deleteReason: () => `not in ${target.local}`,
    keyOf: sides.keyOf,
  });
  const verdicts = await verifyAndRemember(plan.verify, hashConcurrency(ctx), entries);
  for (const { file, remote: r } of verdicts.changed)
    plan.uploads.push({ file, key: r.key, reason: 'content changed' });
  report.unchanged = plan.unchanged + verdicts.same.length;

  const local = sides.local;
  const seenAnything = local.files.length + local.skipped.length + local.ignored.length > 0;
  const verdict = deleteVerdict(
    deleteRefusals({
      workspace: target.location.url,
      target: 'objects',
      deletes: plan.deletes.length,
      total: plan.remoteCount,
      maxDelete: ctx.settings.maxDelete,
      unreadable: { count: local.errors.length, first: local.errors[0] },
      ...(seenAnything
        ? {}
        : { empty: { rule: 'workspace-dir', reason: `${target.local} is empty` } }),
    }),
    { force: run.force, noDelete: !run.delete },
  );
  applyVerdict(ctx, report, verdict);

  const transfer = { store, signal: run.signal };
  const etags = new Map<string, string>();
  await transferAll(
    { ctx, report, progress: run.progress, signal: run.signal },
    `upload ${target.location.url}`,
    plan.uploads.map((u) => ({
      relPath: u.file.relPath,
      object: `s3://${store.bucket}/${u.key}`,
      path: u.file.absPath,
      size: u.file.size,
      upload: u,
    })),
    async ({ upload }, onBytes) => {
      etags.set(upload.file.relPath, await uploadFile(transfer, upload.file, upload.key, onBytes));
    },
  );

  const remoteAfter = new Map(sides.remote.map((r) => [r.relPath, r]));
  if (verdict.blockedBy === undefined && plan.deletes.length > 0) {
    const byKey = new Map(plan.deletes.map((d) => [d.key, d]));
    const outcome = await deleteObjects(
      transfer,
      plan.deletes.map((d) => d.key),
    );
    for (const f of outcome.failed)
      addFailure(report, byKey.get(f.key)?.relPath ?? f.key, f.code, f.message);
    for (const key of outcome.deleted) {
      const d = byKey.get(key);
      if (d === undefined) continue;
      remoteAfter.delete(d.relPath);
      deletedFile(ctx, report, { object: `s3://${store.bucket}/${key}`, path: '' });
    }
  }
  for (const file of local.files) {
    const etag = etags.get(file.relPath);
    if (etag !== undefined)
      remoteAfter.set(file.relPath, {
        key: sides.keyOf(file.relPath),
        relPath: file.relPath,
        size: file.size,
        etag,
        lastModified: new Date(),
      });
  }
  const next = stateAfterPush({
    files: local.files,
    previous: entries,
    remote: remoteAfter,
    uploaded: etags,
  });
  return endRun(report, started, { sync: state, key: stateKey(target), before: remembered }, next);
}

/**
 * The local path decides the shape: a file is uploaded as the one object
 * `key`; a directory as the tree under `key/`.
 */
async function uploadSides(
  store: ObjectStore,
  target: Target,
  signal: AbortSignal | undefined,
): Promise<Sides> {
  const { location, local } = target;
  const info = await stat(local).catch(() => undefined);
  if (info === undefined)
    throw new BucketspaceError(
      'LOCAL_NOT_FOUND',
      `${local} does not exist: nothing to upload to ${location.url} (S3 is left as it is)`,
      { details: { path: local } },
    );
  if (info.isFile()) {
    if (location.key === '')
      throw new BucketspaceError(
        'INVALID_INPUT',
        `${local} is a file: name the object to upload it as (${location.url}/<key>)`,
      );
    // HEAD cannot tell a missing bucket from a missing object: ask the bucket first.
    await store.ensureBucket(signal, { create: false });
    const relPath = basename(local);
    const file = await walkedFileAt(local, relPath);
    const object = await store.head(location.key, signal);
    return {
      local: { files: file ? [file] : [], skipped: [], ignored: [], errors: [] },
      remote: object ? [{ ...object, relPath }] : [],
      keyOf: () => location.key,
    };
  }
  const prefix = prefixOf(location);
  // The walk and the listing at the same time: one is the disk's, the other the network's.
  let walked: Awaited<ReturnType<typeof walkTree>>;
  let listed: RemoteFile[];
  try {
    [walked, listed] = await Promise.all([
      walkTree(target, signal),
      remoteTree(store, prefix, signal),
    ]);
  } catch (err) {
    if (isBucketspaceError(err, 'LOCAL_NOT_FOUND'))
      throw new BucketspaceError(
        'LOCAL_NOT_FOUND',
        `${local} vanished: nothing to upload to ${location.url} (S3 is left as it is)`,
        { cause: err, details: { path: local } },
      );
    throw err;
  }
  const { filter, walk } = walked;
  // Excluded objects are left alone, as excluded local files are.
  const remote = listed.filter((r) => excludedBy(filter, r.relPath) === undefined);
  return { local: walk, remote, keyOf: (relPath) => `${prefix}${relPath}` };
}
