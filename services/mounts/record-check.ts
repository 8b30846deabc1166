import { resolve } from 'node:path';
import { isInside, linkPathFor, rootProblem } from './link-plan.ts';
import type { MountLink, MountRecord } from './types.ts';

/** What this process trusts: its own settings and its own uid. */
export interface RecordTrust {
  /** MOUNT_DIR. */
  mountDir: string;
  /** The uid of this process (undefined where there are no POSIX owners). */
  uid: number | undefined;
  /** Where this process's S3 settings point. */
  s3: { endpoint: string | undefined; region: string; forcePathStyle: boolean };
}

/**
 * A mount point must be a directory inside MOUNT_DIR: a registry that names
 * any other path would have us mount over it (or unmount it, as root).
 */
export function mountPointProblem(rec: MountRecord, trust: RecordTrust): string | undefined {
  const mp = resolve(rec.mountPoint);
  const dir = resolve(trust.mountDir);
  if (mp !== dir && isInside(mp, dir)) return undefined;
  return `the registry gives s3://${rec.bucket} the mount point ${rec.mountPoint}, which is not inside MOUNT_DIR (${trust.mountDir}); set MOUNT_DIR back to where it was, or \`bucketspace mount remove ${rec.bucket}\` and add it again`;
}

/**
 * A recorded S3 endpoint is where this process would send its keys (signed
 * requests carry the access key id): it is used only when it is the one of
 * this process's settings, or when this user recorded it.
 */
export function sourceProblem(rec: MountRecord, trust: RecordTrust): string | undefined {
  if (rec.source.kind !== 's3') return undefined;
  if (trust.uid !== undefined && rec.ownerUid === trust.uid) return undefined;
  const { endpoint, region, forcePathStyle } = rec.source;
  const mine = trust.s3;
  if (
    endpoint === (mine.endpoint ?? null) &&
    region === mine.region &&
    forcePathStyle === mine.forcePathStyle
  ) {
    return undefined;
  }
  const who = rec.ownerUid === null ? 'an unknown user' : `uid ${rec.ownerUid}`;
  return `the registry says s3://${rec.bucket} is at ${endpoint ?? 'AWS'} (region ${region}), recorded by ${who}, but your S3 settings point at ${mine.endpoint ?? 'AWS'} (region ${mine.region}): refusing to send your keys there; \`bucketspace mount remove ${rec.bucket}\` and add it again with the right S3_ENDPOINT`;
}

/** A recorded link must be `<root>/<bucket>` under a root that `mount add` would accept. */
export function linkProblem(
  rec: Pick<MountRecord, 'bucket'>,
  link: MountLink,
  trust: Pick<RecordTrust, 'mountDir'>,
): string | undefined {
  if (resolve(link.path) !== resolve(linkPathFor(link.root, rec.bucket))) {
    return `the registry has a link ${link.path} that is not <root>/${rec.bucket}: left alone`;
  }
  const problem = rootProblem({
    root: link.root,
    absRoot: resolve(link.root),
    realRoot: resolve(link.root),
    realMountDir: resolve(trust.mountDir),
  });
  return problem === undefined ? undefined : `the registry has a link ${link.path}: ${problem}`;
}

/** The links of a record that may be made, and why the others may not. */
export function checkedLinks(
  rec: MountRecord,
  trust: Pick<RecordTrust, 'mountDir'>,
): { links: MountLink[]; problems: string[] } {
  const links: MountLink[] = [];
  const problems: string[] = [];
  for (const link of rec.links) {
    const problem = linkProblem(rec, link, trust);
    if (problem === undefined) links.push(link);
    else problems.push(problem);
  }
  return { links, problems };
}
