import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';
import type * as S3Api from '@aws-sdk/client-s3';
import type { _Object, S3Client } from '@aws-sdk/client-s3';
import { systemClock, type Clock } from '../clock.ts';
import { BucketspaceError, localError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { normalizeEtag } from './etag.ts';
import type { S3Config } from './s3-settings.ts';
import { classifyS3Error } from './s3-errors.ts';
import { gaveUp, S3RetryPolicy, sdkAttempts, type RetryNotice } from './s3-retry.ts';
import type {
  CopyOptions,
  DeleteResult,
  GetOptions,
  GetResult,
  ListLevel,
  ObjectInfo,
  ObjectStore,
  PutOptions,
} from './object-store.ts';
import { parseListPage, type ListPage } from './list-xml.ts';
import { MAX_SINGLE_PUT, partSizeFor } from './multipart.ts';
import { S3PutClient } from './s3-put-client.ts';
import { pathStyleTarget, type S3PutTarget } from './signed-target.ts';
import pLimit from 'p-limit';

export interface S3ObjectStoreOptions {
  config: S3Config;
  logger: Logger;
  /** Sockets kept open to the server; should be at least the transfer concurrency. */
  maxSockets?: number;
  /** Waits between attempts of signed PUTs, and the retry budget, run on it. */
  clock?: Clock;
  /** Told of every retry (e.g. logRetries: "waiting for S3 (attempt n of N)"). */
  onRetry?: (notice: RetryNotice) => void;
  /** Objects larger than this are copied in parts (default and most S3 allows in one CopyObject: 5 GiB). */
  copyCutoff?: number;
}

/**
 * The one adapter over @aws-sdk/client-s3 (and the only code that imports
 * it): its SDK client is private, every request it makes is retried by one
 * policy (S3RetryPolicy), and every error leaves it classified.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly description: string;
  #sdkClient: Promise<Sdk> | undefined;
  /** Milliseconds to add to the local clock, until the SDK's client holds it (then its). */
  #clockOffset = 0;
  /** The SDK's client once made. */
  #loadedClient: S3Client | undefined;
  #destroyed = false;
  readonly #retry: S3RetryPolicy;
  readonly #clock: Clock;
  private readonly logger: Logger;
  private readonly config: S3Config;
  private readonly maxSockets: number;
  private readonly copyCutoff: number;
  /**
   * Multipart uploads at once: lib-storage holds 4 parts in memory per upload,
   * so many large files would otherwise cost transfers x 4 x part size.
   */
  private readonly multipartSlots = pLimit(2);
  /** The signed-PUT fast path, set up on the first upload; undefined where only the SDK applies. */
  private putClient: Promise<S3PutClient | undefined> | undefined;

  constructor(options: S3ObjectStoreOptions) {
    const { config } = options;
    this.config = config;
    this.maxSockets = options.maxSockets ?? 64;
    this.copyCutoff = options.copyCutoff ?? MAX_SINGLE_PUT;
    this.bucket = config.bucket;
    this.logger = options.logger;
    this.description = `s3://${config.bucket}${config.endpoint ? ` @ ${config.endpoint}` : ''}`;
    this.#clock = options.clock ?? systemClock;
    this.#retry = new S3RetryPolicy({
      maxAttempts: config.maxAttempts,
      retryTimeoutMs: config.retryTimeoutMs,
      clock: this.#clock,
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
  }

  /**
   * The SDK's client, made on first use: a run that only lists and
   * downloads through signed requests (decision 0070) never loads the SDK.
   */
  #sdk(): Promise<Sdk> {
    return (this.#sdkClient ??= this.#makeSdk());
  }

  async #makeSdk(): Promise<Sdk> {
    const [api, { NodeHttpHandler }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('@smithy/node-http-handler'),
    ]);
    const { config } = this;
    const checksum = config.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
    const client = new api.S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.credentials ? { credentials: config.credentials } : {}),
      forcePathStyle: config.forcePathStyle,
      maxAttempts: config.maxAttempts,
      retryStrategy: this.#retry.sdkStrategy(),
      requestChecksumCalculation: checksum,
      responseChecksumValidation: checksum,
      // A correction the signed requests made before the SDK was loaded.
      systemClockOffset: this.#clockOffset,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: config.connectTimeoutMs,
        // Silence on the socket, not the whole request: large transfers take as long as they take.
        socketTimeout: config.requestTimeoutMs,
        httpAgent: { keepAlive: true, maxSockets: this.maxSockets },
        httpsAgent: { keepAlive: true, maxSockets: this.maxSockets },
      }),
    });
    this.#loadedClient = client;
    if (this.#destroyed) client.destroy();
    return { client, api };
  }

  async ensureBucket(
    signal?: AbortSignal,
    options: { create?: boolean } = {},
  ): Promise<'created' | 'exists'> {
    const { client, api } = await this.#sdk();
    try {
      await client.send(new api.HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: signal,
      });
      return 'exists';
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (err as { name?: string }).name;
      if (status !== 404 && name !== 'NotFound' && name !== 'NoSuchBucket') {
        throw this.#failed(err, `checking bucket ${this.bucket}`);
      }
    }
    if (options.create === false) {
      throw new BucketspaceError('S3_NO_SUCH_BUCKET', `bucket ${this.bucket} does not exist`);
    }
    try {
      await client.send(new api.CreateBucketCommand({ Bucket: this.bucket }), {
        abortSignal: signal,
      });
      this.logger.info({ bucket: this.bucket }, 'created bucket');
      return 'created';
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return 'exists';
      throw this.#failed(err, `creating bucket ${this.bucket}`);
    }
  }

  async list(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const page of this.listPages(prefix, signal)) out.push(...page);
    return out;
  }

  async *listPages(prefix: string, signal?: AbortSignal): AsyncGenerator<ObjectInfo[]> {
    let pages = 0;
    let objects = 0;
    for await (const page of this.#pages(prefix, undefined, signal)) {
      pages += 1;
      objects += page.objects.length;
      yield page.objects;
    }
    this.logger.debug({ prefix, objects, pages }, 'listed objects');
  }

  async listLevel(prefix: string, signal?: AbortSignal): Promise<ListLevel> {
    const level: ListLevel = { objects: [], prefixes: [] };
    for await (const page of this.#pages(prefix, '/', signal)) {
      level.objects.push(...page.objects);
      level.prefixes.push(...page.prefixes);
    }
    return level;
  }

  /**
   * Every page of a listing (ListObjectsV2, 1,000 keys each), in key order.
   * Where GETs are signed directly, so are the listing's (list-xml.ts reads
   * the pages), and the next page is asked for as soon as a page arrives,
   * while this one is parsed and taken; elsewhere the SDK's ListObjectsV2.
   */
  async *#pages(
    prefix: string,
    delimiter: string | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ListPage> {
    const description = `listing s3://${this.bucket}/${prefix}`;
    const direct = await (this.putClient ??= this.makePutClient());
    if (direct) {
      const fetch = (token: string | undefined) => {
        const page = direct.listPage({ prefix, delimiter, token, signal, description });
        page.catch(() => undefined); // awaited below, unless the caller stops early
        return page;
      };
      for (let next = fetch(undefined); ;) {
        const { xml, nextToken } = await next;
        if (nextToken !== undefined) {
          next = fetch(nextToken);
          // Its request is signed and sent in microtasks: they run before this page is parsed
          // (parsing 1,000 keys first kept the request back 3-17 ms).
          await new Promise(setImmediate);
        }
        yield parseListPage(xml);
        if (nextToken === undefined) return;
      }
    }
    const { client, api } = await this.#sdk();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client.send(
          new api.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(delimiter !== undefined ? { Delimiter: delimiter } : {}),
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        throw this.#failed(err, description);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      yield {
        objects: (page.Contents ?? []).map(toInfo),
        prefixes: (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix] : [])),
        nextToken: token,
      };
    } while (token !== undefined);
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    const { client, api } = await this.#sdk();
    try {
      const res = await client.send(new api.HeadObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: signal,
      });
      return {
        key,
        size: res.ContentLength ?? 0,
        etag: normalizeEtag(res.ETag),
        lastModified: res.LastModified ?? new Date(0),
      };
    } catch (err) {
      // A HEAD answer has no body, so a missing object is only a 404 (a missing bucket too: list first).
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404) return undefined;
      throw classifyS3Error(err, `reading s3://${this.bucket}/${key}`);
    }
  }

  /**
   * Below the upload cutoff: one PUT, signed and sent by S3PutClient (file
   * bodies re-opened on every attempt). At or above it, or where the SDK's
   * endpoint needs more than SigV4: the SDK (lib-storage for file bodies,
   * whose parts are buffers the SDK can resend).
   */
  async put(options: PutOptions): Promise<{ etag: string }> {
    if (options.size < this.config.uploadCutoff) {
      const direct = await (this.putClient ??= this.makePutClient());
      if (direct) {
        const etag = await direct.put(options);
        if (options.body) options.onProgress?.(options.size);
        return { etag };
      }
    }
    const what = `uploading s3://${this.bucket}/${options.key}`;
    try {
      const { client, api } = await this.#sdk();
      if (options.filePath === undefined) {
        const res = await client.send(
          new api.PutObjectCommand({
            Bucket: this.bucket,
            Key: options.key,
            Body: options.body ?? new Uint8Array(),
            ContentLength: options.size,
            ...(options.md5Hex
              ? { ContentMD5: Buffer.from(options.md5Hex, 'hex').toString('base64') }
              : {}),
            Metadata: options.metadata,
          }),
          { abortSignal: options.signal },
        );
        options.onProgress?.(options.size);
        return { etag: normalizeEtag(res.ETag) };
      }
      const filePath = options.filePath;
      return { etag: await this.multipartSlots(() => this.multipart(options, filePath)) };
    } catch (err) {
      throw this.#failed(err, what);
    }
  }

  private async multipart(options: PutOptions, filePath: string): Promise<string> {
    // An abort before the start would never reach lib-storage's listener.
    if (options.signal?.aborted)
      throw Object.assign(new Error('aborted before it started'), { name: 'AbortError' });
    // Opened here, so a vanished or unreadable file is a local error, never a network one.
    let file: FileHandle;
    try {
      file = await open(filePath, 'r');
    } catch (err) {
      throw localError(err, filePath, 'reading');
    }
    try {
      return await this.upload(options, file);
    } finally {
      await file.close().catch(() => undefined);
    }
  }

  private async upload(options: PutOptions, file: FileHandle): Promise<string> {
    // Loaded on the first large file only.
    const { Upload } = await import('@aws-sdk/lib-storage');
    const { client } = await this.#sdk();
    const upload = new Upload({
      client,
      params: {
        Bucket: this.bucket,
        Key: options.key,
        Body: file.createReadStream({ autoClose: false }),
        Metadata: options.metadata,
      },
      partSize: partSizeFor(options.size),
      queueSize: 4,
      leavePartsOnError: false,
    });
    let last = 0;
    upload.on('httpUploadProgress', (p) => {
      const loaded = p.loaded ?? 0;
      if (loaded > last) {
        options.onProgress?.(loaded - last);
        last = loaded;
      }
    });
    const abort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const res = await upload.done();
      return normalizeEtag(res.ETag);
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }

  /** One GET signed and sent by S3PutClient where it applies, else the SDK's GetObject. */
  async get(options: GetOptions): Promise<GetResult> {
    const direct = await (this.putClient ??= this.makePutClient());
    if (direct) return direct.get(options);
    const what = `downloading s3://${this.bucket}/${options.key}`;
    try {
      const { client, api } = await this.#sdk();
      const res = await client.send(
        new api.GetObjectCommand({ Bucket: this.bucket, Key: options.key }),
        {
          abortSignal: options.signal,
        },
      );
      const body = res.Body as Readable | undefined;
      if (body) await pipeline(body, options.writeTo, { signal: options.signal });
      else options.writeTo.end();
      return {
        size: res.ContentLength ?? 0,
        etag: normalizeEtag(res.ETag),
        metadata: res.Metadata ?? {},
      };
    } catch (err) {
      throw this.#failed(err, what);
    }
  }

  async getBytes(options: {
    key: string;
    signal?: AbortSignal | undefined;
  }): Promise<GetResult & { body: Buffer }> {
    const direct = await (this.putClient ??= this.makePutClient());
    if (direct) return direct.getBytes(options);
    const chunks: Buffer[] = [];
    const writeTo = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    const res = await this.get({ ...options, writeTo });
    return { ...res, body: Buffer.concat(chunks) };
  }

  /**
   * CopyObject with the source's metadata (MetadataDirective COPY); above
   * the copy cutoff (S3 copies at most 5 GiB at once) a multipart upload
   * whose parts are copied from ranges of the source (UploadPartCopy), sized
   * as uploads are (partSizeFor), so its ETag is the one a local hash predicts.
   */
  async copy(options: CopyOptions): Promise<{ etag: string }> {
    const what = `copying s3://${this.bucket}/${options.from} to ${options.to}`;
    try {
      const { client, api } = await this.#sdk();
      if (options.size <= this.copyCutoff) {
        const res = await client.send(
          new api.CopyObjectCommand({
            Bucket: this.bucket,
            Key: options.to,
            CopySource: copySource(this.bucket, options.from),
            MetadataDirective: 'COPY',
          }),
          { abortSignal: options.signal },
        );
        return { etag: normalizeEtag(res.CopyObjectResult?.ETag) };
      }
      return { etag: await this.multipartCopy(options) };
    } catch (err) {
      throw this.#failed(err, what);
    }
  }

  private async multipartCopy(options: CopyOptions): Promise<string> {
    const abortSignal = options.signal;
    const { client, api } = await this.#sdk();
    const head = await client.send(
      new api.HeadObjectCommand({ Bucket: this.bucket, Key: options.from }),
      { abortSignal },
    );
    const created = await client.send(
      new api.CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: options.to,
        Metadata: head.Metadata,
        ...(head.ContentType !== undefined ? { ContentType: head.ContentType } : {}),
      }),
      { abortSignal },
    );
    const uploadId = created.UploadId;
    try {
      const partSize = partSizeFor(options.size);
      const count = Math.ceil(options.size / partSize);
      const limit = pLimit(4);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          limit(async () => {
            const start = i * partSize;
            const end = Math.min(options.size, start + partSize) - 1;
            const res = await client.send(
              new api.UploadPartCopyCommand({
                Bucket: this.bucket,
                Key: options.to,
                UploadId: uploadId,
                PartNumber: i + 1,
                CopySource: copySource(this.bucket, options.from),
                CopySourceRange: `bytes=${start}-${end}`,
              }),
              { abortSignal },
            );
            return { PartNumber: i + 1, ETag: res.CopyPartResult?.ETag };
          }),
        ),
      );
      const done = await client.send(
        new api.CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: options.to,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal },
      );
      return normalizeEtag(done.ETag);
    } catch (err) {
      await client
        .send(
          new api.AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: options.to,
            UploadId: uploadId,
          }),
        )
        .catch(() => undefined);
      throw err;
    }
  }

  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<DeleteResult> {
    const result: DeleteResult = { deleted: [], failed: [] };
    const { client, api } = await this.#sdk();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const res = await client.send(
          new api.DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: false },
          }),
          { abortSignal: signal },
        );
        const failed = new Set<string>();
        for (const e of res.Errors ?? []) {
          if (e.Key === undefined) continue;
          failed.add(e.Key);
          result.failed.push({ key: e.Key, code: e.Code ?? 'Unknown', message: e.Message ?? '' });
        }
        for (const key of batch) if (!failed.has(key)) result.deleted.push(key);
      } catch (err) {
        throw this.#failed(err, `deleting ${batch.length} objects from s3://${this.bucket}`);
      }
    }
    return result;
  }

  /** An SDK failure, classified, saying how often the SDK tried. */
  #failed(err: unknown, what: string) {
    return gaveUp(classifyS3Error(err, what), sdkAttempts(err));
  }

  destroy(): void {
    this.#destroyed = true;
    void this.#sdkClient?.then(({ client }) => client.destroy());
    void this.putClient?.then((c) => c?.destroy());
  }

  /**
   * The signed requests' client. Where they go: for an explicit path-style
   * endpoint, where the SDK's rules would send them (pathStyleTarget, no SDK
   * loaded); elsewhere, the SDK's own endpoint rules, and endpoints that need
   * anything but plain SigV4 (S3 Express, multi-region access points) keep
   * using the SDK. Static credentials sign without the SDK; the default
   * chain is the SDK's.
   */
  private async makePutClient(): Promise<S3PutClient | undefined> {
    const target = pathStyleTarget(this.config) ?? (await this.#sdkTarget());
    if (target === undefined) return undefined;
    const { credentials } = this.config;
    return new S3PutClient({
      target,
      credentials: credentials
        ? () => Promise.resolve(credentials)
        : async () => (await this.#sdk()).client.config.credentials(),
      clockOffset: {
        get: () => this.#loadedClient?.config.systemClockOffset ?? this.#clockOffset,
        set: (ms) => {
          this.#clockOffset = ms;
          if (this.#loadedClient) this.#loadedClient.config.systemClockOffset = ms;
        },
      },
      retry: this.#retry,
      clock: this.#clock,
      maxSockets: this.maxSockets,
      connectionTimeoutMs: this.config.connectTimeoutMs,
      requestTimeoutMs: this.config.requestTimeoutMs,
      logger: this.logger,
    });
  }

  /** The bucket's URL and signing scope from the SDK's endpoint rules; undefined where SigV4 alone does not do. */
  async #sdkTarget(): Promise<S3PutTarget | undefined> {
    const cfg = (await this.#sdk()).client.config;
    try {
      const region = await cfg.region();
      const endpoint = cfg.endpointProvider({
        Bucket: this.bucket,
        Region: region,
        UseFIPS: await cfg.useFipsEndpoint(),
        UseDualStack: await cfg.useDualstackEndpoint(),
        ForcePathStyle: cfg.forcePathStyle,
        Accelerate: cfg.useAccelerateEndpoint,
        ...(this.config.endpoint ? { Endpoint: this.config.endpoint } : {}),
      });
      const scheme = (endpoint.properties?.authSchemes as AuthScheme[] | undefined)?.[0];
      if (scheme?.name !== 'sigv4' || Object.keys(endpoint.headers ?? {}).length > 0) {
        this.logger.debug({ scheme: scheme?.name }, 'requests go through the SDK');
        return undefined;
      }
      return {
        baseUrl: endpoint.url,
        signingRegion: scheme.signingRegion ?? region,
        signingService: scheme.signingName ?? 's3',
      };
    } catch (err) {
      this.logger.debug({ err }, 'requests go through the SDK: no endpoint for signed requests');
      return undefined;
    }
  }
}

interface Sdk {
  client: S3Client;
  api: typeof S3Api;
}

interface AuthScheme {
  name?: string;
  signingName?: string;
  signingRegion?: string;
}

/** `x-amz-copy-source`: the bucket and the key, each path segment URL-encoded as S3 requires. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function toInfo(obj: _Object): ObjectInfo {
  return {
    key: obj.Key ?? '',
    size: obj.Size ?? 0,
    etag: normalizeEtag(obj.ETag),
    lastModified: obj.LastModified ?? new Date(0),
  };
}
