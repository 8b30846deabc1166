import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../common/logger.ts';
import type { StateEntry } from './types.ts';

interface StateFile {
  version: 1;
  endpoint: string;
  bucket: string;
  workspace: string;
  files: Record<string, StateEntry>;
}

export interface SyncStateOptions {
  stateDir: string;
  /** Identifies the remote: state for one server/bucket never applies to another. */
  endpoint: string;
  bucket: string;
  logger: Logger;
}

/**
 * What the sync remembers per workspace: for each file it uploaded or
 * verified, the local stat (size, mtime, ctime, inode) and the ETag the server
 * gave it. With it, an unchanged sync is one listing plus local stats; without
 * it (first run, new machine, deleted state) files are hashed and compared
 * with the listing's ETags instead, so nothing is uploaded needlessly.
 * One JSON file per workspace, written atomically (temp file + rename).
 */
export class SyncState {
  /** This remote's directory (`<stateDir>/sync/<id of endpoint and bucket>`): state files and the run lock. */
  readonly dir: string;
  private readonly options: SyncStateOptions;
  /** What could not be saved (a full or read-only disk), kept for this process so it still knows. */
  readonly #unsaved = new Map<string, Map<string, StateEntry>>();

  constructor(options: SyncStateOptions) {
    this.options = options;
    const id = createHash('sha256')
      .update(`${options.endpoint}\n${options.bucket}`)
      .digest('hex')
      .slice(0, 16);
    this.dir = join(options.stateDir, 'sync', id);
  }

  private fileFor(workspace: string): string {
    return join(this.dir, `${encodeURIComponent(workspace)}.json`);
  }

  async load(workspace: string): Promise<Map<string, StateEntry>> {
    const unsaved = this.#unsaved.get(workspace);
    if (unsaved) return new Map(unsaved);
    let text: string;
    try {
      text = await readFile(this.fileFor(workspace), 'utf8');
    } catch {
      return new Map();
    }
    try {
      const parsed = JSON.parse(text) as StateFile;
      if (parsed.version !== 1 || parsed.bucket !== this.options.bucket) return new Map();
      return new Map(Object.entries(parsed.files));
    } catch (err) {
      this.options.logger.warn(
        { err, workspace },
        'sync state unreadable; files will be hashed instead',
      );
      return new Map();
    }
  }

  async save(workspace: string, entries: ReadonlyMap<string, StateEntry>): Promise<void> {
    const body: StateFile = {
      version: 1,
      endpoint: this.options.endpoint,
      bucket: this.options.bucket,
      workspace,
      files: Object.fromEntries(entries),
    };
    const target = this.fileFor(workspace);
    const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(tmp, JSON.stringify(body));
      await rename(tmp, target);
      this.#unsaved.delete(workspace);
    } catch (err) {
      this.#unsaved.set(workspace, new Map(entries));
      // A full or read-only disk: never leave half a file behind.
      await rm(tmp, { force: true }).catch(() => undefined);
      // Losing the state costs hashing next time, never correctness.
      this.options.logger.warn({ err, workspace, dir: this.dir }, 'could not save sync state');
    }
  }
}
