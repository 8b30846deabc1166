import { createHash, randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Random, TextPool } from './random.ts';
import type { WatchTree } from './watch-tree.ts';

/**
 * How a save reaches the disk: a new file; an edit written in place; or an
 * editor's safe save (write a temporary file next to it, then rename it over
 * the original, as gedit, JetBrains IDEs and vim with `backupcopy=no` do).
 */
export type SaveKind = 'new' | 'in-place' | 'rename';
export const SAVE_KINDS: readonly SaveKind[] = ['new', 'in-place', 'rename'];

export interface Save {
  kind: SaveKind;
  /** Object key, `<workspace>/<path>`. */
  key: string;
  content: string;
  md5: string;
}

/** `count` saves cycling through the kinds and workspaces; new files get names unique to `label`. */
export function planSaves(tree: WatchTree, count: number, label: string, rng: Random): Save[] {
  const pool = new TextPool(rng, 32 * 1024);
  const saves: Save[] = [];
  for (let i = 0; i < count; i++) {
    const kind = SAVE_KINDS[i % SAVE_KINDS.length] ?? 'new';
    const key =
      kind === 'new'
        ? `${tree.directories[(i * 7) % tree.directories.length] ?? 'web/src'}/${label}-new-${i}.ts`
        : (tree.sources[(i * 13) % tree.sources.length] ?? 'web/src/file-0.ts');
    const content = pool.take(
      rng,
      `// ${label} save ${i} (${kind}) ${rng.int(0, 1e9)}\n`,
      rng.logUniform(200, 4_000),
    );
    saves.push({ kind, key, content, md5: createHash('md5').update(content).digest('hex') });
  }
  return saves;
}

/** Performs one save on disk. */
export async function performSave(workspacesDir: string, save: Save): Promise<void> {
  const path = join(workspacesDir, save.key);
  if (save.kind !== 'rename') {
    await writeFile(path, save.content);
    return;
  }
  const temp = join(
    dirname(path),
    `.goutputstream-${randomBytes(3).toString('hex').toUpperCase()}`,
  );
  await writeFile(temp, save.content);
  await rename(temp, path);
}

/** Objects that look like an editor's temporary file (should never stay in the bucket). */
export function isTempKey(key: string): boolean {
  return basename(key).startsWith('.goutputstream-');
}
