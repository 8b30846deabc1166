import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Agent as HttpAgent, ClientRequest, IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { sleep, systemClock, type Clock } from '../clock.ts';
import { BucketspaceError, errorMessage, localError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { normalizeEtag } from './etag.ts';
import type { GetOptions, GetResult, PutOptions } from './object-store.ts';
import { nextListToken } from './list-xml.ts';
import type { S3PutTarget } from './signed-target.ts';
import { encodeRfc3986, S3Signer, type SigningCredentials } from './sigv4.ts';
import { classifyS3Error, isClockSkewError } from './s3-errors.ts';
import { gaveUp, type S3RetryPolicy } from './s3-retry.ts';

/** The payload hash S3 accepts when the body is not hashed (Content-MD5 guards it instead). */
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** An object key as a URL path, encoded as the SDK encodes S3 keys (RFC 3986; `/` kept). */
export function encodeKeyPath(key: string): string {
  return UNRESERVED_PATH.test(key) ? key : key.split('/').map(encodeRfc3986).join('/');
}

/** A key RFC 3986 leaves as it is (unreserved characters and `/`): most keys, encoded for free. */
const UNRESERVED_PATH = /^[A-Za-z0-9\-._~/]*$/;

export interface S3PutClientOptions {
  target: S3PutTarget;
  credentials: () => Promise<SigningCredentials>;
  /** Milliseconds to add to the local clock (shared with the SDK, which corrects it on skew errors). */
  clockOffset: { get(): number; set(ms: number): void };
  /** Which failures are retried, how often and after how long (shared with the SDK's requests). */
  retry: S3RetryPolicy;
  maxSockets: number;
  logger: Logger;
  /** How long a connection may take to open. */
  connectionTimeoutMs: number;
  /** Idle time on the socket (no byte sent or received) before a request fails. */
  requestTimeoutMs: number;
  /** Waits between attempts run on it. */
  clock?: Clock;
}

/** The S3 error of one response, shaped like the SDK's errors so classifyS3Error applies. */
class S3ResponseError extends Error {
  readonly Code: string;
  readonly $metadata: { httpStatusCode: number };
  readonly serverDate: string | undefined;

  constructor(status: number, code: string, message: string, serverDate: string | undefined) {
    super(message || `HTTP ${status}`);
    this.name = code || `Http${status}`;
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
    this.serverDate = serverDate;
  }
}

/** How one request's promise ends: once, whichever comes first. */
interface Settle<T> {
  settled: () => boolean;
  ok: (value: T) => void;
  fail: (err: unknown) => void;
}

/** The local file no longer has the size the plan saw. */
class FileChangedError extends Error {}

/** Reading the local file failed (not the network): never retried, reported as a local error. */
class LocalReadError extends Error {}

/** Bodies at least this large wait for `100 Continue`, so a refusal does not cost the upload. */
const EXPECT_CONTINUE_MIN = 1024 * 1024;
const CONTINUE_WAIT_MS = 1000;
const STREAM_CHUNK = 1024 * 1024;

/**
 * Single-request S3 PutObject, signed by S3Signer (SigV4) and
 * sent on a keep-alive agent: the hot path of a sync, which sends thousands
 * of small PUTs; the SDK's PutObject spent twice the CPU on the same sync, in
 * its per-request middleware (decision 0011). Every PUT carries Content-MD5
 * (so the server rejects a corrupted body) and an unsigned payload, like
 * rclone. Retries what the retry policy retries (the classified error's
 * `retryable`), waiting on the injected clock and re-opening file bodies, so
 * a retry never sends a half-consumed stream.
 */
export class S3PutClient {
  private readonly options: S3PutClientOptions;
  private readonly agent: HttpAgent;
  private readonly send: (typeof import('node:http'))['request'];
  private readonly signer: S3Signer;
  private readonly https: boolean;
  private readonly clock: Clock;
  /** The requests in flight per abort signal (see #abortWith). */
  readonly #inFlight = new WeakMap<AbortSignal, Set<ClientRequest>>();

  constructor(options: S3PutClientOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.signer = new S3Signer({
      credentials: options.credentials,
      region: options.target.signingRegion,
      service: options.target.signingService,
    });
    this.https = options.target.baseUrl.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    // Taken with getBuiltinModule, not imported: importing node:http as an ES module reads every
    // export, WebSocket too, which loads undici (20-40 ms of a short command's start here). TLS is
    // loaded only for an https endpoint.
    const web = process.getBuiltinModule(this.https ? 'node:https' : 'node:http');
    this.agent = new web.Agent(agentOptions);
    this.send = web.request;
  }

  /**
   * Uploads the object and returns its ETag (lower case, no quotes). A file
   * body is opened afresh for every attempt, so a retry sends it whole again.
   */
  async put(req: PutOptions): Promise<string> {
    let md5Hex = req.md5Hex ?? (req.body ? md5Of(req.body) : undefined);
    return this.#retrying(
      { method: 'PUT', key: req.key, signal: req.signal },
      async () => {
        if (md5Hex === undefined) md5Hex = await fileMd5(req.filePath ?? '', req.size);
        return this.once(req, md5Hex);
      },
      (err) => {
        if (err instanceof FileChangedError)
          return new BucketspaceError(
            'LOCAL_UNREADABLE',
            `${req.filePath} changed size while it was uploaded (expected ${req.size} bytes); the next sync uploads it`,
            { cause: err },
          );
        if (err instanceof LocalReadError)
          return localError(err.cause, req.filePath ?? '', 'reading');
        if (err instanceof S3ResponseError && err.Code === 'BadDigest' && req.filePath)
          md5Hex = undefined; // the file changed since it was hashed: hash it again
        return undefined;
      },
    );
  }

  /**
   * Downloads the object into `writeTo` with one signed GET on the same
   * keep-alive sockets as the PUTs: the SDK's GetObject spent two and a half
   * times the CPU on a download of many small objects, in its per-request
   * middleware. Retried like the PUTs until the body starts to flow into
   * `writeTo` (which a failure then ends); after that, the caller starts over.
   */
  async get(req: GetOptions): Promise<GetResult> {
    let delivered = false;
    return this.#retrying(
      { method: 'GET', key: req.key, signal: req.signal },
      () => this.getOnce(req, () => (delivered = true)),
      (_err, error) => (delivered ? error : undefined),
    );
  }

  /**
   * Downloads a small object into memory with one signed GET: no stream
   * between the socket and the caller, and a failure anywhere (the body
   * too) is retried as the policy says, since nothing reached the caller.
   */
  async getBytes(req: {
    key: string;
    signal?: AbortSignal | undefined;
  }): Promise<GetResult & { body: Buffer }> {
    return this.#retrying(
      { method: 'GET', key: req.key, signal: req.signal },
      async () => {
        const request = await this.signedRequest('GET', req.key, req.signal);
        const { body, res } = await this.receive(request);
        return {
          size: body.length,
          etag: normalizeEtag(res.headers.etag),
          metadata: metadataOf(res),
          body,
        };
      },
      () => undefined,
    );
  }

  /**
   * One page of a ListObjectsV2 listing (1,000 keys at most), as the XML the
   * server sent, with the token of the next page, read before the page is
   * parsed so the caller can ask for it at once (list-xml.ts). Signed and
   * retried like the GETs; a page that cannot be read is asked for again.
   */
  async listPage(req: {
    prefix: string;
    delimiter: string | undefined;
    token: string | undefined;
    signal: AbortSignal | undefined;
    /** What is listed, for errors: `listing s3://bucket/prefix`. */
    description: string;
  }): Promise<{ xml: string; nextToken: string | undefined }> {
    const query: Record<string, string> = {
      'list-type': '2',
      prefix: req.prefix,
      'max-keys': '1000',
      // Keys come percent-encoded where the server supports it, so every key survives XML.
      'encoding-type': 'url',
    };
    if (req.delimiter !== undefined) query.delimiter = req.delimiter;
    if (req.token !== undefined) query['continuation-token'] = req.token;
    return this.#retrying(
      {
        method: 'GET',
        key: req.prefix,
        signal: req.signal,
        description: req.description,
      },
      async () => {
        const request = await this.signedRequest('GET', '', req.signal, {}, {}, query);
        const xml = (await this.receive(request)).body.toString('utf8');
        return { xml, nextToken: nextListToken(xml) };
      },
      () => undefined,
    );
  }

  /**
   * Runs `attempt` until it succeeds or the retry policy gives up.
   * `final` turns an error into the one to throw at once (a local problem,
   * a half-delivered body), or undefined to let the policy decide.
   */
  async #retrying<T>(
    what: {
      method: 'PUT' | 'GET';
      key: string;
      signal: AbortSignal | undefined;
      /** What the request does, for its errors (default: uploading/downloading s3://.../key). */
      description?: string;
    },
    attempt: () => Promise<T>,
    final: (err: unknown, error: BucketspaceError) => BucketspaceError | undefined,
  ): Promise<T> {
    const { retry } = this.options;
    const startedAt = this.clock.now();
    const action = what.method === 'PUT' ? 'uploading' : 'downloading';
    const description = what.description ?? `${action} s3://${this.bucketPath()}/${what.key}`;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (err) {
        // Whatever the abort's reason is (an Error of the caller's), the request was aborted.
        if (what.signal?.aborted)
          throw new BucketspaceError(
            'ABORTED',
            `${what.description ?? `${action} ${what.key}`}: aborted`,
            {
              cause: what.signal.reason ?? err,
            },
          );
        const error = classifyS3Error(err, description);
        const stop = final(err, error);
        if (stop !== undefined) throw stop;
        const delay = this.retryDelay(err, error, n, startedAt);
        this.options.logger.debug(
          {
            err,
            key: what.key,
            attempt: n,
            maxAttempts: retry.maxAttempts,
            retry: delay !== undefined,
          },
          delay !== undefined ? `${what.method} failed; retrying` : `${what.method} failed`,
        );
        if (delay === undefined) throw gaveUp(error, n);
        retry.notify({ attempt: n, maxAttempts: retry.maxAttempts, delayMs: delay, error });
        if (delay > 0) await sleep(this.clock, delay, what.signal);
        what.signal?.throwIfAborted(); // the wait ends early on abort: no further attempt
      }
    }
  }

  destroy(): void {
    this.agent.destroy();
  }

  private bucketPath(): string {
    const u = this.options.target.baseUrl;
    return `${u.host}${u.pathname.replace(/\/$/, '')}`;
  }

  /**
   * The policy's wait before the next attempt, or undefined to give up. A
   * skewed clock is retried at once, if correcting it from the server's
   * Date changed anything.
   */
  private retryDelay(
    err: unknown,
    error: BucketspaceError,
    attempt: number,
    startedAt: number,
  ): number | undefined {
    const { retry } = this.options;
    if (!isClockSkewError(err)) return retry.retryDelay(error, attempt, startedAt);
    const corrected =
      err instanceof S3ResponseError &&
      this.correctClock(err.serverDate) &&
      attempt < retry.maxAttempts;
    return corrected ? 0 : undefined;
  }

  /** Adopt the server's clock (as the SDK does); retry only if that changed anything. */
  private correctClock(serverDate: string | undefined): boolean {
    const server = serverDate ? Date.parse(serverDate) : Number.NaN;
    if (!Number.isFinite(server)) return false;
    const offset = server - this.clock.now();
    if (Math.abs(offset - this.options.clockOffset.get()) < 60_000) return false;
    this.options.clockOffset.set(offset);
    return true;
  }

  private async once(req: PutOptions, md5Hex: string): Promise<string> {
    const headers: Record<string, string> = {
      'content-length': String(req.size),
      'content-md5': Buffer.from(md5Hex, 'hex').toString('base64'),
      'content-type': 'application/octet-stream',
    };
    for (const [name, value] of Object.entries(req.metadata ?? {}))
      headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    const expectContinue = req.body === undefined && req.size >= EXPECT_CONTINUE_MIN;
    const request = await this.signedRequest('PUT', req.key, req.signal, headers, {
      ...(expectContinue ? { expect: '100-continue' } : {}),
    });
    return this.exchange<string>(request, (settle) => {
      onSuccess(request, settle, (res) => {
        readResponse(res).then(() => {
          if (settle.settled()) return;
          // An answer before the whole body was sent leaves the socket mid-request: never reuse it.
          if (!request.writableFinished) request.destroy();
          settle.ok(normalizeEtag(res.headers.etag));
        }, settle.fail);
      });
      if (req.body !== undefined) {
        request.end(req.body);
        return;
      }
      const write = () => void sendFile(request, req).catch(settle.fail);
      if (!expectContinue) {
        write();
        return;
      }
      // Wait for `100 Continue` (or a refusal); servers that never send it get the body after a second.
      let started = false;
      const start = () => {
        if (started || settle.settled()) return;
        started = true;
        clearTimeout(timer);
        write();
      };
      const timer = setTimeout(start, CONTINUE_WAIT_MS);
      request.once('continue', start);
      request.once('response', () => clearTimeout(timer));
      request.flushHeaders();
    });
  }

  /**
   * The whole body of a successful answer (which must have the length its
   * Content-Length says); an error answer fails as an S3 error.
   */
  private receive(request: ClientRequest): Promise<{ body: Buffer; res: IncomingMessage }> {
    return this.exchange(request, (settle) => {
      onSuccess(request, settle, (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
        });
        res.once('error', settle.fail);
        res.once('end', () => {
          const short = cutShort(res, received);
          if (short) settle.fail(short);
          else
            settle.ok({
              body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received),
              res,
            });
        });
        res.once('close', () => {
          if (!res.complete) settle.fail(new Error('the connection closed before the body ended'));
        });
      });
      request.end();
    });
  }

  private async getOnce(req: GetOptions, onBody: () => void): Promise<GetResult> {
    const request = await this.signedRequest('GET', req.key, req.signal);
    return this.exchange<GetResult>(request, (settle) => {
      onSuccess(request, settle, (res) => {
        onBody();
        deliver(res, req.writeTo).then((received) => {
          const short = cutShort(res, received);
          if (short) settle.fail(short);
          else
            settle.ok({
              size: received,
              etag: normalizeEtag(res.headers.etag),
              metadata: metadataOf(res),
            });
        }, settle.fail);
      });
      request.end();
    });
  }

  /**
   * A request for the object `key`: `headers` signed (with the host and an
   * unsigned payload), `unsigned` ones added after, on the keep-alive agent.
   */
  private async signedRequest(
    method: 'PUT' | 'GET',
    key: string,
    signal: AbortSignal | undefined,
    headers: Record<string, string> = {},
    unsigned: Record<string, string> = {},
    query: Record<string, string> = {},
  ): Promise<ClientRequest> {
    const { baseUrl } = this.options.target;
    const path = `${baseUrl.pathname.replace(/\/$/, '')}/${encodeKeyPath(key)}`;
    const search = Object.entries(query)
      .map(([name, value]) => `${name}=${encodeRfc3986(value)}`)
      .join('&');
    const signed = await this.signer.sign(
      {
        method,
        path,
        query,
        headers: { host: baseUrl.host, ...headers, 'x-amz-content-sha256': UNSIGNED_PAYLOAD },
      },
      { signingDate: new Date(this.clock.now() + this.options.clockOffset.get()) },
    );
    const request = this.send({
      protocol: baseUrl.protocol,
      hostname: baseUrl.hostname,
      port: baseUrl.port,
      method,
      path: search === '' ? path : `${path}?${search}`,
      headers: { ...signed.headers, 'user-agent': 'bucketspace', ...unsigned },
      agent: this.agent,
      timeout: this.options.requestTimeoutMs,
    });
    if (signal !== undefined) this.#abortWith(signal, request);
    return request;
  }

  /**
   * Destroys `request` when `signal` aborts (at once when it has). One
   * listener per signal for all its requests, each request held until it
   * closes: `signal` given to http.request costs an abort listener and an
   * end-of-stream watch per request, a quarter of a small GET's time here.
   */
  #abortWith(signal: AbortSignal, request: ClientRequest): void {
    const abort = () => {
      const err = new Error('the request was aborted');
      err.name = 'AbortError';
      return err;
    };
    if (signal.aborted) {
      request.destroy(abort());
      return;
    }
    let requests = this.#inFlight.get(signal);
    if (requests === undefined) {
      const held = new Set<ClientRequest>();
      signal.addEventListener(
        'abort',
        () => {
          for (const r of held) r.destroy(abort());
          held.clear();
        },
        { once: true },
      );
      this.#inFlight.set(signal, held);
      requests = held;
    }
    const held = requests;
    held.add(request);
    request.once('close', () => held.delete(request));
  }

  /**
   * Settles once, as `run` says: an error of the request, silence on the
   * socket for too long, or a connection that takes too long fails it; a
   * failure destroys the request.
   */
  private exchange<T>(request: ClientRequest, run: (settle: Settle<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle: Settle<T> = {
        settled: () => settled,
        ok: (value) => {
          if (settled) return;
          settled = true;
          resolve(value);
        },
        fail: (err) => {
          if (settled) return;
          settled = true;
          request.destroy();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      };
      request.on('error', settle.fail);
      request.on('timeout', () => {
        const err = new Error('S3 request timed out (no data for too long)');
        err.name = 'TimeoutError';
        settle.fail(err);
      });
      this.guardConnect(request, settle.fail);
      run(settle);
    });
  }

  private guardConnect(request: ClientRequest, fail: (err: unknown) => void): void {
    const ms = this.options.connectionTimeoutMs;
    request.once('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => {
        const err = Object.assign(new Error(`could not connect within ${ms} ms`), {
          code: 'ETIMEDOUT',
        });
        fail(err);
      }, ms);
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
  }
}

/**
 * Sends the file's first `size` bytes as the request body through two
 * reused buffers: a buffer is read into again only once the socket has taken
 * it, so a large file costs 2 x STREAM_CHUNK of memory and no garbage.
 */
async function sendFile(request: ClientRequest, req: PutOptions): Promise<void> {
  const closed = new Promise<void>((resolve) => request.once('close', resolve));
  let writeError: unknown;
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve) => {
      request.write(chunk, (err) => {
        if (err) writeError ??= err;
        resolve();
      });
    });
  let handle: FileHandle | undefined;
  try {
    handle = await open(req.filePath ?? '', 'r');
  } catch (err) {
    throw new LocalReadError(errorMessage(err), { cause: err });
  }
  try {
    const size = req.size;
    const buffers = [0, 1].map(() => Buffer.allocUnsafe(Math.min(STREAM_CHUNK, Math.max(1, size))));
    const inFlight: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    let position = 0;
    for (let i = 0; position < size; i++) {
      const slot = i % 2;
      await Promise.race([inFlight[slot], closed]);
      if (writeError !== undefined || request.destroyed) return; // the request failed: its error is reported
      const buffer = buffers[slot] as Buffer;
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(
          buffer,
          0,
          Math.min(buffer.length, size - position),
          position,
        ));
      } catch (err) {
        throw new LocalReadError(errorMessage(err), { cause: err });
      }
      if (bytesRead === 0) throw new FileChangedError(`read ${position} of ${size} bytes`);
      position += bytesRead;
      inFlight[slot] = write(buffer.subarray(0, bytesRead));
      req.onProgress?.(bytesRead);
    }
    await Promise.race([Promise.all(inFlight), closed]);
    if (!request.destroyed) request.end();
  } finally {
    await handle.close();
  }
}

/** Hands a successful answer to `handle`; an error answer fails `settle` with its S3 error. */
function onSuccess<T>(
  request: ClientRequest,
  settle: Settle<T>,
  handle: (res: IncomingMessage) => void,
): void {
  request.on('response', (res: IncomingMessage) => {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      handle(res);
      return;
    }
    readResponse(res).then((r) => {
      const { code, message } = parseS3Error(r.body);
      settle.fail(new S3ResponseError(r.status, code, message, res.headers.date));
    }, settle.fail);
  });
}

/** The error of a body shorter (or longer) than its Content-Length said; undefined when it was whole. */
function cutShort(res: IncomingMessage, received: number): Error | undefined {
  const expected = Number(res.headers['content-length']);
  return Number.isFinite(expected) && received !== expected
    ? new Error(`the body ended after ${received} of ${expected} bytes`)
    : undefined;
}

async function readResponse(res: IncomingMessage): Promise<{ status: number; body: string }> {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) {
    res.resume();
    await new Promise<void>((resolve, reject) => {
      res.once('end', resolve);
      res.once('error', reject);
    });
    return { status, body: '' };
  }
  let body = '';
  res.setEncoding('utf8');
  for await (const chunk of res) {
    if (body.length < 64 * 1024) body += chunk as string;
  }
  return { status, body };
}

/**
 * Streams a response body into `to` (with backpressure) and resolves with
 * the bytes delivered once `to` has taken them all; a body cut short or a
 * failing `to` rejects, and `to` is destroyed. (stream.pipeline does the
 * same but makes an AbortController per call, a third of a small GET's cost.)
 */
function deliver(res: IncomingMessage, to: NodeJS.WritableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let received = 0;
    let ended = false;
    const fail = (err: unknown) => {
      (to as Writable).destroy();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    res.once('end', () => (ended = true));
    res.once('error', fail);
    res.once('close', () => {
      if (!ended) fail(new Error('the connection closed before the body ended'));
    });
    to.once('error', fail);
    to.once('finish', () => resolve(received));
    res.pipe(to);
  });
}

/** The object's user metadata (`x-amz-meta-<name>` headers) by name. */
function metadataOf(res: IncomingMessage): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers))
    if (name.startsWith('x-amz-meta-') && typeof value === 'string')
      metadata[name.slice('x-amz-meta-'.length)] = value;
  return metadata;
}

/** Code and Message of an S3 XML error body (empty when there is none, e.g. for HEAD). */
export function parseS3Error(xml: string): { code: string; message: string } {
  const pick = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1]?.trim() ?? '';
  return { code: pick('Code'), message: pick('Message') };
}

function md5Of(body: Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

async function fileMd5(path: string, size: number): Promise<string> {
  const hash = createHash('md5');
  const buffer = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, Math.max(1, size)));
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    let position = 0;
    while (position < size) {
      const want = Math.min(buffer.length, size - position);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) break; // shorter than planned: the upload itself reports it
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } catch (err) {
    throw new LocalReadError(err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    await handle?.close();
  }
  return hash.digest('hex');
}
