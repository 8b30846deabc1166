import type { Refusal } from './types.ts';
import type { MaxDelete } from './sync-settings.ts';

/**
 * The safety rails for deletions, as pure decisions (decision 0004). Push,
 * pull and watch ask `deleteRefusals` before deleting anything in a
 * workspace; a refusal carries its rule (the stable code scripts and tests
 * read) and a message naming the workspace and the numbers.
 */
export interface DeleteRailsInput {
  workspace: string;
  /** What would be deleted: objects in the bucket (push, watch) or local files (pull). */
  target: 'objects' | 'local files';
  /** Deletions planned now. */
  deletes: number;
  /** What the workspace holds on the deleting side before any of these deletions. */
  total: number;
  maxDelete: MaxDelete;
  /** The side mirrored from could not be read completely: how many directories, and the first. */
  unreadable?: { count: number; first?: { relPath: string; message: string } };
  /**
   * The side mirrored from has nothing for this workspace (an unmounted disk
   * looks like this): `reason` says what was seen.
   */
  empty?: { rule: 'workspace-dir' | 'remote-empty'; reason: string };
  /** Watch mode: deletions made in the last `windowMs`; they count with these. */
  recent?: { count: number; windowMs: number };
}

/** Every rail that refuses these deletions; empty when they may go ahead. */
export function deleteRefusals(input: DeleteRailsInput): Refusal[] {
  const { workspace: ws, deletes: n, target } = input;
  if (n === 0) return [];
  const refusals: Refusal[] = [];
  const refuse = (rule: Refusal['rule'], message: string) =>
    refusals.push({ workspace: ws, rule, message, deletesWithheld: n });
  if (input.unreadable !== undefined && input.unreadable.count > 0) {
    const { count, first } = input.unreadable;
    const where = target === 'objects' ? 'directories' : 'local directories';
    const example = first === undefined ? '' : ` (${first.relPath}: ${first.message})`;
    refuse(
      'walk-errors',
      `${ws}: ${count} ${where} could not be read${example}; refusing to delete ${n} ${target}`,
    );
  }
  if (input.empty !== undefined) {
    refuse(
      input.empty.rule,
      `${ws}: ${input.empty.reason}; refusing to delete its ${n} ${target} (is a disk or mount missing?)`,
    );
    return refusals;
  }
  const recent = input.recent?.count ?? 0;
  // Against what the workspace had before the window's deletions.
  if (exceedsMaxDelete(n + recent, input.total + recent, input.maxDelete)) {
    const limit = describeMaxDelete(input.maxDelete);
    refuse(
      'max-delete',
      recent === 0 || input.recent === undefined
        ? `${ws}: ${n} of ${input.total} ${target} would be deleted, more than ${limit}`
        : `${ws}: ${n} more ${target} would be deleted after ${recent} in the last ` +
            `${input.recent.windowMs / 1000} s (${n + recent} of ${input.total + recent}), more than ${limit}`,
    );
  }
  return refusals;
}

/**
 * "Several" workspaces gone at once: one sync that finds this many
 * workspace directories gone refuses to remove any of them.
 */
export const SEVERAL_WORKSPACES = 2;

/**
 * Workspaces whose local directory is gone (push): their objects move to the
 * trash, one workspace at a time. Refused when WORKSPACES_DIR has no
 * workspace at all (`workspaces-dir`: a missing disk or mount looks exactly
 * like that), and when one sync finds several gone at once
 * (`several-workspaces`: a mistake or a failing disk more often than a
 * decision). Deleting one project's directory while the rest are there is
 * what people mean; a second one deleted by a later sync is judged alone.
 */
export function missingWorkspacesRefusal(input: {
  workspacesDir: string;
  localWorkspaces: number;
  /** The workspaces whose directory is gone, with objects in the bucket. */
  missing: readonly string[];
  /** The objects they hold. */
  objects: number;
}): Refusal | undefined {
  const { missing, objects } = input;
  if (objects === 0 || missing.length === 0) return undefined;
  const proceed =
    'If you deleted them, run `bucketspace sync --force` once (stop `sync watch` first): they move to the trash, restorable with `bucketspace sync restore <workspace>`';
  if (input.localWorkspaces === 0) {
    return {
      workspace: '*',
      rule: 'workspaces-dir',
      message: `WORKSPACES_DIR ${input.workspacesDir} has no workspaces at all; refusing to remove ${objects} objects of ${missing.length} workspaces (is a disk or mount missing?). ${proceed}`,
      deletesWithheld: objects,
    };
  }
  if (missing.length >= SEVERAL_WORKSPACES) {
    return {
      workspace: '*',
      rule: 'several-workspaces',
      message: `${missing.length} workspace directories disappeared at once (${missing.join(', ')}); refusing to remove their ${objects} objects (is a disk or mount missing, or were they moved?). Put them back, or: ${proceed}`,
      deletesWithheld: objects,
    };
  }
  return undefined;
}

/** What the refusals of a run mean for its deletions, given --force and --no-delete. */
export function deleteVerdict(
  refusals: readonly Refusal[],
  options: { force: boolean; noDelete: boolean },
): {
  blockedBy: '--no-delete' | 'safety refusal' | undefined;
  refusals: Refusal[];
  overridden: Refusal[];
} {
  return {
    blockedBy: options.noDelete
      ? '--no-delete'
      : refusals.length > 0 && !options.force
        ? 'safety refusal'
        : undefined,
    refusals: options.force ? [] : [...refusals],
    overridden: options.force ? [...refusals] : [],
  };
}

/** The delete limit of one workspace for one run. */
export function exceedsMaxDelete(deletes: number, total: number, limit: MaxDelete): boolean {
  if (deletes === 0) return false;
  switch (limit.kind) {
    case 'count':
      return deletes > limit.value;
    case 'percent':
      return total === 0 ? deletes > 0 : (deletes / total) * 100 > limit.value;
    case 'default':
      return deletes > 10 && deletes * 2 > total;
  }
}

export function describeMaxDelete(limit: MaxDelete): string {
  switch (limit.kind) {
    case 'count':
      return `--max-delete ${limit.value}`;
    case 'percent':
      return `--max-delete ${limit.value}%`;
    case 'default':
      return 'the default limit (more than 50% of the objects and more than 10)';
  }
}
