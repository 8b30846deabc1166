import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  /** CopyObject (a PUT with x-amz-copy-source): a server-side copy, e.g. rclone updating an mtime. */
  copy: boolean;
}

export interface CountingProxy {
  url: string;
  requests: RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

/**
 * A transparent HTTP proxy on 127.0.0.1 in front of the S3 server that records
 * every request, so tests and benchmarks can count what an operation costs.
 * Headers pass unchanged, so SigV4 signatures (which cover Host) still verify.
 * `failFirstPuts` answers that many PUTs with 503 SlowDown (fault injection).
 */
export async function startCountingProxy(
  target: () => string,
  options: { failFirstPuts?: number } = {},
): Promise<CountingProxy> {
  const requests: RecordedRequest[] = [];
  let failures = options.failFirstPuts ?? 0;
  const server: Server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      copy: req.headers['x-amz-copy-source'] !== undefined,
    });
    if (req.method === 'PUT' && failures > 0) {
      // A transient server error after the body was sent: the client must retry with the whole body.
      failures -= 1;
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
        );
      });
      return;
    }
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
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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
