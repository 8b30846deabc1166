import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Where pull keeps what it replaces or deletes: `<WORKSPACES_DIR>/.bucketspace-backup/<time>/`. */
export const BACKUP_DIR_NAME = '.bucketspace-backup';

/**
 * Local files a run replaces or deletes are moved here instead of being
 * unlinked (a rename on the same filesystem: cheap and atomic), under
 * `<workspace>/<relPath>`.
 */
export class LocalBackup {
  readonly dir: string;
  #moved = 0;

  constructor(workspacesDir: string, now: Date) {
    this.dir = join(workspacesDir, BACKUP_DIR_NAME, now.toISOString().replace(/[:.]/g, '-'));
  }

  /** Files moved so far. */
  get moved(): number {
    return this.#moved;
  }

  /** Moves `absPath` (the file `relPath` of `workspace`) into the backup. */
  async move(workspace: string, relPath: string, absPath: string): Promise<void> {
    const to = join(this.dir, workspace, relPath);
    await mkdir(dirname(to), { recursive: true });
    await rename(absPath, to);
    this.#moved += 1;
  }
}
