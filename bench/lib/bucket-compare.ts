import type { ObjectSummary } from './bench-s3.ts';

export interface BucketDiff {
  onlyFirst: string[];
  onlySecond: string[];
  /** Keys in both whose ETags differ; multipart ETags (`md5-N`) are not comparable and are skipped. */
  etagMismatch: string[];
  multipartSkipped: number;
  common: number;
}

export function compareBuckets(
  first: ReadonlyMap<string, ObjectSummary>,
  second: ReadonlyMap<string, ObjectSummary>,
): BucketDiff {
  const diff: BucketDiff = {
    onlyFirst: [],
    onlySecond: [],
    etagMismatch: [],
    multipartSkipped: 0,
    common: 0,
  };
  for (const [key, a] of first) {
    const b = second.get(key);
    if (!b) {
      diff.onlyFirst.push(key);
      continue;
    }
    diff.common += 1;
    if (a.etag.includes('-') || b.etag.includes('-')) diff.multipartSkipped += 1;
    else if (a.etag !== b.etag || a.size !== b.size) diff.etagMismatch.push(key);
  }
  for (const key of second.keys()) if (!first.has(key)) diff.onlySecond.push(key);
  return diff;
}

export function sameKeys(diff: BucketDiff): boolean {
  return diff.onlyFirst.length === 0 && diff.onlySecond.length === 0;
}

/** "3 only in A (a/b, c/d, ...)" */
export function sampleKeys(keys: readonly string[], n = 5): string {
  const shown = keys.slice(0, n).join(', ');
  return keys.length > n ? `${shown}, ...` : shown;
}
