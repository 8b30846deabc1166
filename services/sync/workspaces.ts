import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BucketspaceError, localError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { isWorkspaceEntryName, workspaceArgumentProblem } from '../common/workspace-name.ts';

export interface LocalWorkspaces {
  names: string[];
  /** Entries directly under the directory that are not workspaces, with why. */
  notWorkspaces: { name: string; why: string }[];
}

/**
 * The workspaces are the directories directly under `dir` (a symlink to a
 * directory counts: the link is the workspace's root). Dot-directories
 * (`.bucketspace-backup`, `.git`) and plain files are not workspaces.
 * A missing or unreadable `dir` is an error, never "no workspaces".
 */
export async function listLocalWorkspaces(dir: string, logger: Logger): Promise<LocalWorkspaces> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    throw localError(err, dir, 'reading WORKSPACES_DIR');
  }
  if (!info.isDirectory()) {
    throw new BucketspaceError('LOCAL_NOT_FOUND', `WORKSPACES_DIR ${dir} is not a directory`, {
      details: { path: dir },
    });
  }
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw localError(err, dir, 'reading WORKSPACES_DIR');
  }
  const names: string[] = [];
  const notWorkspaces: { name: string; why: string }[] = [];
  for (const entry of entries) {
    if (!isWorkspaceEntryName(entry.name)) {
      notWorkspaces.push({ name: entry.name, why: 'hidden entries are not workspaces' });
      continue;
    }
    let isDir = entry.isDirectory();
    if (entry.isSymbolicLink()) {
      isDir = await stat(join(dir, entry.name)).then(
        (s) => s.isDirectory(),
        () => false,
      );
    }
    if (isDir) names.push(entry.name);
    else notWorkspaces.push({ name: entry.name, why: 'not a directory' });
  }
  for (const n of notWorkspaces)
    logger.debug({ entry: n.name, why: n.why }, 'skipped entry of WORKSPACES_DIR');
  names.sort();
  return { names, notWorkspaces };
}

/** A workspace named on the command line: one directory directly under WORKSPACES_DIR (USAGE error otherwise). */
export function assertWorkspaceArgument(name: string): void {
  const problem = workspaceArgumentProblem(name);
  if (problem !== undefined) {
    throw new BucketspaceError(
      'USAGE',
      `not a workspace name (${problem}): use the name of a directory directly under WORKSPACES_DIR`,
    );
  }
}
