import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { localError, systemErrorCode } from '../../common/errors.ts';

/**
 * Workspaces the user stopped, kept in the monitor's data directory so a
 * stopped workspace stays stopped across monitor restarts.
 */
export class StoppedSet {
  readonly #file: string;
  #names = new Set<string>();

  constructor(file: string) {
    this.#file = file;
  }

  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#file, 'utf8'));
      if (Array.isArray(parsed)) this.#names = new Set(parsed.filter((n) => typeof n === 'string'));
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return;
      if (err instanceof SyntaxError) return; // a torn write: start with nothing stopped
      throw localError(err, this.#file, 'read');
    }
  }

  names(): ReadonlySet<string> {
    return this.#names;
  }

  async add(name: string): Promise<void> {
    if (this.#names.has(name)) return;
    this.#names.add(name);
    await this.#save();
  }

  async remove(name: string): Promise<void> {
    if (!this.#names.delete(name)) return;
    await this.#save();
  }

  async #save(): Promise<void> {
    await mkdir(path.dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify([...this.#names].sort(), null, 2));
    await rename(tmp, this.#file);
  }
}
