import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';

/** A server listening on a free port of 127.0.0.1: its URL, and a close that drops every connection. */
export async function listenOnLoopback(
  server: HttpServer | NetServer,
  dropConnections: () => void = () => {
    if ('closeAllConnections' in server) server.closeAllConnections();
  },
): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        dropConnections();
        server.close(() => resolve());
      }),
  };
}
