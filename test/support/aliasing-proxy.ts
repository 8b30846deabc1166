import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, request, type Server } from 'node:http';
import { forward } from './counting-proxy.ts';
import { listenOnLoopback } from './loopback.ts';

/**
 * An S3 endpoint that holds keys s3rver cannot (it normalises `..` and `.`
 * segments away; AWS keeps them): each key of `aliases` (as shown) is stored
 * in s3rver under a plain key, and the proxy shows it under its real name in
 * listings and serves it when that name is asked for. Everything else passes
 * through unchanged, signatures included.
 */
export interface AliasingProxy {
  url: string;
  close(): Promise<void>;
}

export async function startAliasingProxy(options: {
  target: () => string;
  /** A client of the server behind, to read aliased objects. */
  client: S3Client;
  bucket: string;
  /** Shown key -> stored key. */
  aliases: ReadonlyMap<string, string>;
}): Promise<AliasingProxy> {
  const { bucket, aliases } = options;
  const shownByStored = new Map([...aliases].map(([shown, stored]) => [stored, shown]));
  const server: Server = createServer((req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?');
    const params = new URLSearchParams(query);
    if (req.method === 'GET' && params.get('list-type') === '2') {
      const t = new URL(options.target());
      const upstream = request(
        { host: t.hostname, port: t.port, method: 'GET', path: req.url, headers: req.headers },
        (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            let xml = Buffer.concat(chunks).toString('utf8');
            xml = xml.replace(/<Key>([^<]*)<\/Key>/g, (whole, key: string) => {
              const shown = shownByStored.get(unescapeXml(key));
              return shown === undefined ? whole : `<Key>${escapeXml(shown)}</Key>`;
            });
            const body = Buffer.from(xml);
            res.writeHead(up.statusCode ?? 502, { ...up.headers, 'content-length': body.length });
            res.end(body);
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end();
      return;
    }
    const prefix = `/${bucket}/`;
    const shown = path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)) : '';
    const stored = aliases.get(shown);
    if ((req.method === 'GET' || req.method === 'HEAD') && stored !== undefined) {
      void serveAliased(options.client, bucket, stored, req.method === 'HEAD').then(
        ({ headers, body }) => {
          res.writeHead(200, headers);
          res.end(body);
        },
        () => res.destroy(),
      );
      return;
    }
    forward(req, res, options.target, undefined);
  });
  return listenOnLoopback(server);
}

async function serveAliased(
  client: S3Client,
  bucket: string,
  key: string,
  head: boolean,
): Promise<{ headers: Record<string, string>; body: Buffer | undefined }> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
  const headers: Record<string, string> = {
    'content-length': String(body.length),
    'content-type': res.ContentType ?? 'application/octet-stream',
    etag: res.ETag ?? '',
    'last-modified': (res.LastModified ?? new Date()).toUTCString(),
  };
  for (const [name, value] of Object.entries(res.Metadata ?? {}))
    headers[`x-amz-meta-${name}`] = value;
  return { headers, body: head ? undefined : body };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function unescapeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
