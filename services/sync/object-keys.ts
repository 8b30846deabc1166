import type { ObjectInfo } from '../common/s3/object-store.ts';
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
 * Split a bucket listing into workspaces: `ws/a/b.txt` -> workspace `ws`,
 * relPath `a/b.txt`. Directory markers (keys ending in `/`) and keys at the
 * bucket root are not files of any workspace and are left alone.
 */
export function groupRemoteByWorkspace(objects: readonly ObjectInfo[]): Map<string, RemoteFile[]> {
  const out = new Map<string, RemoteFile[]>();
  for (const obj of objects) {
    const slash = obj.key.indexOf('/');
    if (slash <= 0 || obj.key.endsWith('/')) continue;
    const { workspace, relPath } = splitKey(obj.key);
    let list = out.get(workspace);
    if (!list) out.set(workspace, (list = []));
    list.push({ ...obj, relPath });
  }
  return out;
}
