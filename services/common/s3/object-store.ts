/** What bucketspace needs from an object store. Only the adapter imports the SDK. */
export interface ObjectInfo {
  key: string;
  size: number;
  /** ETag without quotes: the MD5 hex for single-part uploads, `md5-N` for multipart. */
  etag: string;
  lastModified: Date;
}

export interface PutOptions {
  key: string;
  /** A file to stream from (large files) ... */
  filePath?: string;
  /** ... or the bytes themselves (small files). */
  body?: Uint8Array;
  size: number;
  /** Hex MD5 of `body` when known: sent as Content-MD5 so the server verifies it. */
  md5Hex?: string;
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

export interface GetOptions {
  key: string;
  /** Write the object to this path (written by the caller's chosen writer). */
  writeTo: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export interface GetResult {
  size: number;
  etag: string;
  metadata: Record<string, string>;
}

/** One level of a listing: what `ls` without recursion shows. */
export interface ListLevel {
  /** Objects directly under the prefix. */
  objects: ObjectInfo[];
  /** Deeper levels, as full key prefixes ending in `/` (`data/train/`). */
  prefixes: string[];
}

export interface CopyOptions {
  /** The object to copy ... */
  from: string;
  /** ... and the key of the copy (same bucket). Content and metadata are kept. */
  to: string;
  /** The source's size, from a listing: larger objects than one CopyObject allows are copied in parts. */
  size: number;
  signal?: AbortSignal;
}

export interface DeleteResult {
  deleted: string[];
  failed: { key: string; code: string; message: string }[];
}

export interface ObjectStore {
  /** A short human name for logs, e.g. `s3://workspaces @ http://minio:9000`. */
  readonly description: string;
  readonly bucket: string;
  /**
   * Create the bucket when missing; with `create: false`, only check that it
   * exists (S3_NO_SUCH_BUCKET when it does not).
   */
  ensureBucket(signal?: AbortSignal, options?: { create?: boolean }): Promise<'created' | 'exists'>;
  /** Every object under `prefix` (paginated internally: one listing). */
  list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]>;
  /**
   * The same listing, page by page in key order, the next page asked for
   * while the caller takes this one (never more than one ahead): a caller
   * that lets go of each page holds two pages at most, not the bucket.
   */
  listPages(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo[]>;
  /** One level under `prefix` (`/` as the delimiter), paginated internally. */
  listLevel(prefix: string, signal?: AbortSignal): Promise<ListLevel>;
  /** The object `key` (its size, ETag and time), or undefined when there is none. */
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  put(options: PutOptions): Promise<{ etag: string }>;
  get(options: GetOptions): Promise<GetResult>;
  /** A small object's bytes, in memory (no stream in between; retried whole). */
  getBytes(options: {
    key: string;
    signal?: AbortSignal | undefined;
  }): Promise<GetResult & { body: Buffer }>;
  /** A server-side copy: no byte passes through this process. Returns the copy's ETag. */
  copy(options: CopyOptions): Promise<{ etag: string }>;
  deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult>;
  destroy(): void;
}

/**
 * `store.listPages(prefix)` with its first page asked for now, before the
 * caller iterates: for a caller with modules to load or files to read first.
 * Iterate it once.
 */
export function listingStarted(
  store: ObjectStore,
  prefix: string,
  signal: AbortSignal | undefined,
): AsyncIterable<ObjectInfo[]> {
  const pages = store.listPages(prefix, signal)[Symbol.asyncIterator]();
  const first = pages.next();
  first.catch(() => undefined); // awaited by the iteration, unless the caller fails before it
  let taken = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (taken) return pages.next();
        taken = true;
        return first;
      },
      return: async (value?: unknown) =>
        (await pages.return?.(value)) ?? { done: true, value: undefined },
    }),
  };
}
