import pLimit from 'p-limit';
import { systemErrorCode } from '../../common/errors.ts';
import { localEtags } from '../../common/s3/etag.ts';
import type { SameSizePair, StateEntry } from '../types.ts';
import { stateOf } from './state.ts';

export interface ContentVerdicts {
  /** Same content: the ETag the server gave matches the file's. */
  same: SameSizePair[];
  /** Different content (or the file could not be read to tell). */
  changed: SameSizePair[];
  /** Gone before it could be hashed. */
  vanished: SameSizePair[];
}

/**
 * Same-size verification: hashes each local file the way the server would
 * have (whole MD5, or multipart with our part size) and compares with the
 * listed ETag, so a changed file of the same size is always found and an
 * unchanged one is never transferred again. At most `concurrency` files are
 * read at once.
 */
export async function verifyByContent(
  pairs: readonly SameSizePair[],
  concurrency: number,
): Promise<ContentVerdicts> {
  const verdicts: ContentVerdicts = { same: [], changed: [], vanished: [] };
  const limit = pLimit(Math.max(1, concurrency));
  await Promise.all(
    pairs.map((pair) =>
      limit(async () => {
        try {
          const etags = await localEtags(pair.file.absPath, pair.file.size, pair.remote.etag);
          (etags.includes(pair.remote.etag) ? verdicts.same : verdicts.changed).push(pair);
        } catch (err) {
          (systemErrorCode(err) === 'ENOENT' ? verdicts.vanished : verdicts.changed).push(pair);
        }
      }),
    ),
  );
  const byPath = (a: SameSizePair, b: SameSizePair) => (a.file.relPath < b.file.relPath ? -1 : 1);
  verdicts.same.sort(byPath);
  verdicts.changed.sort(byPath);
  verdicts.vanished.sort(byPath);
  return verdicts;
}

/**
 * verifyByContent, and every file found the same remembered in `state` under
 * the listed ETag, so the next run need not hash it again.
 */
export async function verifyAndRemember(
  pairs: readonly SameSizePair[],
  concurrency: number,
  state: Map<string, StateEntry>,
): Promise<ContentVerdicts> {
  const verdicts = await verifyByContent(pairs, concurrency);
  for (const { file, remote } of verdicts.same) state.set(file.relPath, stateOf(file, remote.etag));
  return verdicts;
}
