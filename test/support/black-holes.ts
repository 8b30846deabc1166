import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { listenOnLoopback } from './loopback.ts';

/** An endpoint that swallows requests: for tests of timeouts against a black-holed S3. */
export interface BlackHole {
  url: string;
  close(): Promise<void>;
}

/** A TCP listener that accepts every connection and never sends a byte. */
export async function acceptsNeverAnswers(): Promise<BlackHole> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
  });
  return listenOnLoopback(server, () => {
    for (const s of sockets) s.destroy();
  });
}

/** Why neverAccepts cannot run here, or false. */
export function neverAcceptsSkipReason(): string | false {
  return spawnSync('python3', ['--version']).status === 0
    ? false
    : 'needs python3 for a socket that never accepts';
}

/**
 * A port whose connections never complete: a listening socket (backlog 0)
 * whose owner never calls accept(), with its one queue slot taken, so the
 * kernel drops every further SYN and a connect waits until it times out.
 */
export async function neverAccepts(): Promise<BlackHole> {
  const child = spawn(
    'python3',
    [
      '-c',
      'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(86400)',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim())));
    child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)));
  });
  const filler = connect(port, '127.0.0.1');
  filler.on('error', () => undefined);
  await new Promise<void>((resolve) => filler.once('connect', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      filler.destroy();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
