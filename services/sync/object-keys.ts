import type { ObjectInfo } from '../common/s3/object-store.ts';
import { isTrashKey } from '../common/trash-names.ts';
import { workspaceArgumentProblem } from '../common/workspace-name.ts';
import type { RemoteFile } from './types.ts';

/** The key of a workspace's file: `<workspace>/<relPath>`. */
export function objectKey(workspace: string, relPath: string): string {
  return `${workspace}/${relPath}`;
}

/** The workspace and workspace-relative path of a key (`ws/a/b.txt` -> `ws`, `a/b.txt`). */
export function splitKey(key: string): { workspace: string; relPath: string } {
  const slash = key.indexOf('/');
  return { workspace: key.slice(0, slash), relPath: key.slice(slash + 1) };
}

/**
 * An object as a file of its workspace (`ws/a/b.txt` -> workspace `ws`,
 * relPath `a/b.txt`), or undefined for directory markers (keys ending in `/`),
 * keys at the bucket root and the trash (`.trash/...`), which are not files
 * of any workspace and are left alone.
 */
function remoteFileOf(obj: ObjectInfo): { workspace: string; file: RemoteFile } | undefined {
  const slash = obj.key.indexOf('/');
  if (slash <= 0 || obj.key.endsWith('/') || isTrashKey(obj.key)) return undefined;
  const { workspace, relPath } = splitKey(obj.key);
  return { workspace, file: { ...obj, relPath } };
}

/** Split a bucket listing into workspaces (see remoteFileOf). */
export function groupRemoteByWorkspace(objects: readonly ObjectInfo[]): Map<string, RemoteFile[]> {
  const out = new Map<string, RemoteFile[]>();
  for (const obj of objects) {
    const found = remoteFileOf(obj);
    if (!found) continue;
    let list = out.get(found.workspace);
    if (!list) out.set(found.workspace, (list = []));
    list.push(found.file);
  }
  return out;
}

/** One workspace's objects, as a streamed listing yields them. */
export interface RemoteWorkspace {
  workspace: string;
  objects: RemoteFile[];
}

/**
 * A listing streamed page by page, regrouped into workspaces, each yielded
 * once the listing has moved past it. A listing is in key order, and every
 * key of a workspace starts with `<workspace>/`, so each workspace's keys
 * come together: one workspace (and one page) is held at a time.
 */
export async function* remoteWorkspaces(
  pages: AsyncIterable<readonly ObjectInfo[]>,
): AsyncGenerator<RemoteWorkspace> {
  let current: RemoteWorkspace | undefined;
  for await (const page of pages) {
    for (const obj of page) {
      const found = remoteFileOf(obj);
      if (!found) continue;
      if (current?.workspace !== found.workspace) {
        if (current) yield current;
        current = { workspace: found.workspace, objects: [] };
      }
      current.objects.push(found.file);
    }
  }
  if (current) yield current;
}

/** A NUL, a backslash, or an empty, `.` or `..` segment between slashes: unsafePathProblem looks closer. */
const SUSPECT_PATH = /\0|\\|(?:^|\/)\.{0,2}(?:\/|$)/;

/**
 * Why a workspace-relative path from the bucket can never be written locally,
 * or undefined when it is safe: an empty segment (`a//b`, a leading `/`), a
 * `.` or `..` segment, a NUL, or the same tricks with a backslash as the
 * separator (`..\x`, `\x`). Any S3 accepts such keys (AWS does); a pull
 * skips them and names them, so nothing is written outside its workspace.
 */
export function unsafePathProblem(relPath: string): string | undefined {
  // Most keys have none of it: one scan instead of two splits (a listing checks every key).
  if (!SUSPECT_PATH.test(relPath)) return undefined;
  if (relPath.includes('\0')) return 'contains a NUL character';
  for (const separator of ['/', '\\']) {
    const segments = relPath.split(separator);
    if (separator === '\\' && segments.length === 1) continue;
    if (segments.some((s) => s === ''))
      return `has an empty path segment (split on "${separator}")`;
    const dots = segments.find((s) => s === '.' || s === '..');
    if (dots !== undefined) return `has a "${dots}" path segment (split on "${separator}")`;
  }
  return undefined;
}

/** Why a key from the bucket is not a file of a workspace that may be written locally (undefined: it is). */
export function unsafeKeyProblem(key: string): string | undefined {
  const { workspace, relPath } = splitKey(key);
  const name = workspaceArgumentProblem(workspace);
  if (name !== undefined) return `its workspace ${name}`;
  return unsafePathProblem(relPath);
}
