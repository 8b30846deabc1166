import { createHash } from 'node:crypto';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { sigV4Problem, type SigV4Secrets } from './sigv4-check.ts';

export interface RecordedRequest {
  method: string;
  url: string;
  /** The client's address (which container, when containers call through the proxy). */
  from: string;
  /** CopyObject (a PUT with x-amz-copy-source): a server-side copy, e.g. rclone updating an mtime. */
  copy: boolean;
  /** Answered by the proxy with an injected 503 (see `failFirstPuts`), never reaching the server. */
  injectedFailure: boolean;
  /** Why the proxy refused the request as a real S3 server would (see `verify`), if it did. */
  rejected?: string;
}

export interface CountingProxyOptions {
  /** Answer the first that many PUTs of every object with 503 SlowDown. */
  failFirstPuts?: number;
  /**
   * Check what s3rver does not, as AWS and MinIO do: every SigV4 signature
   * (with the AWS SDK's signer), the request time (15 minutes, as AWS) and
   * every Content-MD5; refuse a mismatch with 403 SignatureDoesNotMatch,
   * 403 RequestTimeTooSkewed or 400 BadDigest.
   */
  verify?: SigV4Secrets;
  /** Where the proxy listens (default 127.0.0.1; containers reach the host on its bridge address). */
  address?: string;
  /** Called for every request before it is passed on; a promise holds the request until it settles. */
  hold?: (request: { method: string; url: string }) => Promise<void> | undefined;
}

export interface CountingProxy {
  url: string;
  requests: RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * A transparent HTTP proxy (on 127.0.0.1 by default) in front of the S3 server that records
 * every request, so tests and benchmarks can count what an operation costs.
 * Headers pass unchanged, so SigV4 signatures (which cover Host) still verify.
 * `failFirstPuts` answers the first that many PUTs of every object (uploads and
 * parts, each URL counted on its own; never CreateBucket) with 503 SlowDown
 * after reading their body (fault injection). `verify` makes it check
 * signatures and Content-MD5 like a real S3 server.
 */
export async function startCountingProxy(
  target: () => string,
  options: CountingProxyOptions = {},
): Promise<CountingProxy> {
  const requests: RecordedRequest[] = [];
  const failuresPerUrl = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      from: req.socket.remoteAddress ?? '',
      copy: req.headers['x-amz-copy-source'] !== undefined,
      injectedFailure: false,
    };
    requests.push(recorded);
    const failed = failuresPerUrl.get(recorded.url) ?? 0;
    if (
      req.method === 'PUT' &&
      isObjectPath(recorded.url) &&
      failed < (options.failFirstPuts ?? 0)
    ) {
      // A transient server error after the body was sent: the client must retry with the whole body.
      failuresPerUrl.set(recorded.url, failed + 1);
      recorded.injectedFailure = true;
      req.resume();
      req.on('end', () => sendError(res, 503, 'SlowDown', 'Please reduce your request rate.'));
      return;
    }
    const held = options.hold?.({ method: recorded.method, url: recorded.url });
    if (held !== undefined) {
      void held.then(() => pass(req, res, recorded));
      return;
    }
    pass(req, res, recorded);
  });
  const pass = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => {
    if (options.verify) {
      // A client that gives up mid-body (as uploads of a shrinking file do) just ends this exchange.
      verifyThenForward(req, res, options.verify, recorded, target).catch(() => res.destroy());
      return;
    }
    forward(req, res, target, undefined);
  };
  const address = options.address ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    requests,
    reset: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

/** Pass the request on unchanged (its body streamed, or the bytes already read). */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: () => string,
  body: Buffer | undefined,
): void {
  const t = new URL(target());
  const upstream = request(
    { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    res.destroy();
  });
  if (body === undefined) req.pipe(upstream);
  else upstream.end(body);
}

async function verifyThenForward(
  req: IncomingMessage,
  res: ServerResponse,
  secrets: SigV4Secrets,
  recorded: RecordedRequest,
  target: () => string,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const sent = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (Number.isFinite(sent) && Math.abs(sent - Date.now()) > 15 * 60_000) {
    recorded.rejected = `x-amz-date ${amzDate} is more than 15 minutes from the server's clock`;
    sendError(res, 403, 'RequestTimeTooSkewed', recorded.rejected);
    return;
  }
  const problem = await sigV4Problem(
    { method: req.method ?? '', url: req.url ?? '', headers: req.headers },
    secrets,
  );
  if (problem !== undefined) {
    recorded.rejected = problem;
    sendError(res, 403, 'SignatureDoesNotMatch', problem);
    return;
  }
  const md5 = req.headers['content-md5'] as string | undefined;
  if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5) {
    recorded.rejected = `Content-MD5 ${md5} does not match the body`;
    sendError(res, 400, 'BadDigest', recorded.rejected);
    return;
  }
  forward(req, res, target, body);
}

/** `/bucket/key...` (an object) rather than `/bucket` or `/bucket/` (the bucket itself). */
function isObjectPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  const slash = path.indexOf('/', 1);
  return slash > 0 && slash < path.length - 1;
}
