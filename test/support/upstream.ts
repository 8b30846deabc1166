import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/** What an upstream app saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server standing in for a workspace's app, on 127.0.0.1 with a
 * random port. Records every request; answers with `handler`. A websocket
 * endpoint echoes text messages (a minimal RFC 6455 server: enough for the
 * proxy tests, which use Node's own WebSocket client).
 */
export interface Upstream {
  port: number;
  target: { host: string; port: number };
  seen: SeenRequest[];
  /** Websocket upgrades the app accepted: path and headers. */
  upgrades: { url: string; headers: IncomingHttpHeaders }[];
  /** Open websocket connections on the app's side. */
  openSockets(): number;
  close(): Promise<void>;
}

export type UpstreamHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
) => void | Promise<void>;

export async function startUpstream(handler: UpstreamHandler): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const upgrades: Upstream['upgrades'] = [];
  const sockets = new Set<Duplex>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(s);
      void Promise.resolve(handler(req, res, s)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    acceptWebSocket(req, socket, head);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    target: { host: '127.0.0.1', port },
    seen,
    upgrades,
    openSockets: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Complete the handshake, greet with the request path, echo text frames as `echo: <text>`. */
function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    return;
  }
  const accept = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.write(frame(1, Buffer.from(`hello ${req.url ?? ''}`)));
  let buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const parsed = parseFrame(buffer);
      if (!parsed) return;
      buffer = buffer.subarray(parsed.length);
      if (parsed.opcode === 8) {
        socket.end(frame(8, parsed.payload.subarray(0, 2)));
        return;
      }
      if (parsed.opcode === 9) socket.write(frame(10, parsed.payload));
      if (parsed.opcode === 1) {
        socket.write(frame(1, Buffer.from(`echo: ${parsed.payload.toString('utf8')}`)));
      }
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  // The HTTP server's sockets are half-open capable: close ours when the client ends.
  socket.on('end', () => socket.end());
  if (buffer.length > 0) onData(Buffer.alloc(0));
}

/** An unmasked server frame. */
function frame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([0x80 | opcode, len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff])
        : (() => {
            const h = Buffer.alloc(10);
            h[0] = 0x80 | opcode;
            h[1] = 127;
            h.writeBigUInt64BE(BigInt(len), 2);
            return h;
          })();
  return Buffer.concat([header, payload]);
}

/** One complete client frame at the start of `buf`, or undefined when more bytes are needed. */
function parseFrame(buf: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const opcode = (buf[0] ?? 0) & 0x0f;
  const masked = ((buf[1] ?? 0) & 0x80) !== 0;
  let len = (buf[1] ?? 0) & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskLen = masked ? 4 : 0;
  if (buf.length < offset + maskLen + len) return undefined;
  const mask = buf.subarray(offset, offset + maskLen);
  const payload = Buffer.from(buf.subarray(offset + maskLen, offset + maskLen + len));
  if (masked)
    for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  return { opcode, payload, length: offset + maskLen + len };
}
