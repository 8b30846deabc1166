import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a JsonHookServer received. */
export interface ReceivedHook {
  url: string;
  authorization: string | undefined;
  body: unknown;
}

export type HookHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface JsonHookServer {
  url: string;
  received: ReceivedHook[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on loopback standing in for the receiver of a hint (the
 * monitor's hook, the mount's remote control): records each request's path,
 * Authorization and JSON body, then lets `handler` answer.
 */
export async function startJsonHookServer(handler: HookHandler): Promise<JsonHookServer> {
  const received: ReceivedHook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body: JSON.parse(body) as unknown,
      });
      void handler(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
