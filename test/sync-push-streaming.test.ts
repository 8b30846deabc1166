// A push holds a few workspaces at a time, not the bucket (decision 0050), against a real S3 API.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../services/common/clock.ts';
import { silentLogger } from '../services/common/logger.ts';
import { S3ObjectStore } from '../services/common/s3/s3-object-store.ts';
import { finishS3Config, S3_SETTINGS } from '../services/common/s3/s3-settings.ts';
import { resolveSettings } from '../services/common/settings.ts';
import { noProgress } from '../services/sync/progress.ts';
import { pushSync } from '../services/sync/push.ts';
import type { SyncContext } from '../services/sync/sync-context.ts';
import { TRASH_ENTRY_REUSE_MS, TrashEntries } from '../services/sync/trash/trash-entries.ts';
import { SyncState } from '../services/sync/sync-state.ts';
import type { StateEntry } from '../services/sync/types.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { makeTree } from './support/workspace-tree.ts';

const fixture = useTestS3();

/** 12 workspaces of 100 files: the first listing page (1,000 keys) ends inside the 11th. */
function twelveWorkspaces(): Record<string, string> {
  const files: Record<string, string> = {};
  for (let w = 1; w <= 12; w++)
    for (let f = 0; f < 100; f++)
      files[`ws${String(w).padStart(2, '0')}/f${String(f).padStart(3, '0')}.txt`] = `${w}-${f}`;
  return files;
}

/** A sync context on the test S3, with a state directory of its own; `events` records listing pages and state saves. */
async function context(workspacesDir: string, bucket: string, events: string[]) {
  const raw = resolveSettings(S3_SETTINGS, { env: fixture.s3.env(bucket) });
  const store = new S3ObjectStore({ config: finishS3Config(raw).config, logger: silentLogger() });
  const stateDir = await mkdtemp(join(tmpdir(), 'bs-streaming-state-'));
  const state = new SyncState({
    stateDir,
    endpoint: fixture.s3.endpoint,
    bucket,
    logger: silentLogger(),
  });
  const listPages = store.listPages.bind(store);
  store.listPages = async function* (prefix: string, signal?: AbortSignal) {
    let page = 0;
    for await (const objects of listPages(prefix, signal)) {
      // The workspaces' listing (the trash's own, under `.trash/`, is another one).
      if (prefix === '') events.push(`page ${(page += 1)}`);
      yield objects;
    }
  };
  const save = state.save.bind(state);
  state.save = async (workspace: string, entries: ReadonlyMap<string, StateEntry>) => {
    events.push(`saved ${workspace}`);
    await save(workspace, entries);
  };
  const ctx: SyncContext = {
    store,
    state,
    logger: silentLogger(),
    workspacesDir,
    concurrency: 8,
    maxDelete: { kind: 'default' },
    extraExcludes: [],
    deleteMissingWorkspaces: false,
    trash: { retentionMs: 0, entries: new TrashEntries({ reuseWithinMs: TRASH_ENTRY_REUSE_MS }) },
    clock: systemClock,
    progress: noProgress,
  };
  return {
    ctx,
    close: async () => {
      store.destroy();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

describe('sync: one workspace at a time', () => {
  test('regression: workspaces are planned, uploaded and remembered while the listing goes on, not after it', async () => {
    const tree = await makeTree(twelveWorkspaces());
    const bucket = fixture.s3.newBucketName();
    try {
      const first = await context(tree.workspacesDir, bucket, []);
      const initial = await pushSync(first.ctx, { dryRun: false, noDelete: false, force: false });
      await first.close();
      assert.equal(initial.summary.uploaded, 1200);
      assert.deepEqual(initial.changed.length, 12);

      // A machine without the state: every workspace is listed, hashed and remembered again.
      const events: string[] = [];
      const second = await context(tree.workspacesDir, bucket, events);
      const again = await pushSync(second.ctx, { dryRun: false, noDelete: false, force: false });
      await second.close();
      assert.equal(again.summary.uploaded, 0);
      assert.equal(again.summary.unchanged, 1200);
      assert.deepEqual(again.changed, []);
      assert.deepEqual(
        events.filter((e) => e.startsWith('page')),
        ['page 1', 'page 2'],
      );
      const page2 = events.indexOf('page 2');
      const savedBefore = events.slice(0, page2).filter((e) => e.startsWith('saved'));
      assert.ok(
        savedBefore.includes('saved ws01') && savedBefore.length >= 5,
        `workspaces remembered before the second page was asked for: ${savedBefore.join(', ')}`,
      );
      assert.equal(events.filter((e) => e.startsWith('saved')).length, 12);
    } finally {
      await tree.remove();
    }
  });
});
