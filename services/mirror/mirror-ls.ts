import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { localError } from '../common/errors.ts';
import type { ObjectStore } from '../common/s3/object-store.ts';
import { localPath, objectUrl, prefixOf, type Location, type S3Location } from './location.ts';
import { remoteTree } from './target.ts';

/**
 * What is at a location: for S3, the URLs of the objects one level down and
 * of the prefixes below (ending in `/`), or of every object below with
 * `recursive`; a single object lists as itself. For a local path, the paths
 * of its entries, or of every file below with `recursive`; a file lists as itself.
 */
export async function listLocation(
  location: Location,
  store: () => ObjectStore,
  options: { recursive: boolean; signal: AbortSignal | undefined },
): Promise<string[]> {
  if (location.kind === 'local') return listLocal(location.path, options.recursive);
  return listRemote(location, store(), options);
}

async function listRemote(
  location: S3Location,
  store: ObjectStore,
  options: { recursive: boolean; signal: AbortSignal | undefined },
): Promise<string[]> {
  const prefix = prefixOf(location);
  const urls: string[] = [];
  if (options.recursive) {
    for (const r of await remoteTree(store, prefix, options.signal))
      urls.push(objectUrl(store.bucket, r.key));
  } else {
    const level = await store.listLevel(prefix, options.signal);
    for (const o of level.objects) if (o.key !== prefix) urls.push(objectUrl(store.bucket, o.key));
    for (const p of level.prefixes) urls.push(objectUrl(store.bucket, p));
  }
  if (urls.length === 0 && location.key !== '') {
    const object = await store.head(location.key, options.signal);
    if (object !== undefined) urls.push(location.url);
  }
  return urls.sort();
}

async function listLocal(path: string, recursive: boolean): Promise<string[]> {
  const abs = localPath(path);
  try {
    if (!(await stat(abs)).isDirectory()) return [path];
    const entries = await readdir(abs, { withFileTypes: true, recursive });
    return entries
      .filter((e) => !recursive || e.isFile())
      .map((e) => join(path, ...(recursive ? [e.parentPath.slice(abs.length)] : []), e.name))
      .sort();
  } catch (err) {
    throw localError(err, abs, 'listing');
  }
}
