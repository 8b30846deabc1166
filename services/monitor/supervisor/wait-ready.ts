import net from 'node:net';
import { sleep, type Clock } from '../../common/clock.ts';

/** One TCP connection attempt: true when something accepts on host:port. */
export function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export type ReadyOutcome =
  { ready: true } | { ready: false; why: 'exited' | 'timeout' | 'aborted' };

export interface WaitReadyOptions {
  host: () => Promise<{ ip: string | null; running: boolean }>;
  port: number;
  timeoutMs: number;
  intervalMs?: number;
  signal: AbortSignal;
  clock: Clock;
}

/**
 * Wait until the container answers on its port, or it exits, or time runs out.
 * `host()` re-inspects the container so an exit is seen at once.
 */
export async function waitReady(options: WaitReadyOptions): Promise<ReadyOutcome> {
  const { clock, signal } = options;
  const deadline = clock.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  while (!signal.aborted) {
    const { ip, running } = await options.host();
    if (!running) return { ready: false, why: 'exited' };
    if (ip !== null && (await tcpAnswers(ip, options.port, 1_000))) return { ready: true };
    if (clock.now() >= deadline) return { ready: false, why: 'timeout' };
    await sleep(clock, interval, signal);
  }
  return { ready: false, why: 'aborted' };
}
