import type { RecordedRequest } from '../../test/support/counting-proxy.ts';

/** S3 requests of one run, by kind. */
export interface RequestTally {
  total: number;
  byKind: ReadonlyMap<string, number>;
}

/** Name an S3 request from its method and path-style URL (`/bucket`, `/bucket/key?partNumber=1`). */
export function requestKind(req: RecordedRequest): string {
  const url = new URL(req.url, 'http://s3.invalid');
  const hasKey = url.pathname.split('/').filter((p) => p !== '').length > 1;
  const q = url.searchParams;
  switch (req.method) {
    case 'GET':
      if (hasKey) return 'GET';
      return q.has('location') ? 'GET location' : 'LIST';
    case 'HEAD':
      return hasKey ? 'HEAD' : 'HEAD bucket';
    case 'PUT':
      if (!hasKey) return 'CREATE bucket';
      if (req.copy) return 'COPY';
      return q.has('partNumber') ? 'PUT part' : 'PUT';
    case 'POST':
      if (q.has('delete')) return 'DELETE batch';
      if (q.has('uploads')) return 'MPU start';
      return q.has('uploadId') ? 'MPU complete' : 'POST';
    default:
      return req.method;
  }
}

export function tally(requests: readonly RecordedRequest[]): RequestTally {
  const byKind = new Map<string, number>();
  for (const r of requests) {
    const kind = requestKind(r);
    byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
  }
  return { total: requests.length, byKind };
}

export function describeTally(t: RequestTally): string {
  const parts = [...t.byKind.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`);
  return `${t.total.toLocaleString('en-US')} (${parts.join(', ')})`;
}
