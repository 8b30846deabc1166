// What `bench serve` measures on a running stack: save -> new text served,
// failed requests while containers are swapped, and S3 requests while idle.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from './process-cleanup.ts';
import { describeTally, tally } from './request-tally.ts';
import { APP_ENTRY, appSource, appText, type AppName } from './serve-apps.ts';
import type { ServeStack } from './serve-stack.ts';

const POLL_MS = 25;

/** One GET with a short timeout: status and body, or the network error's name. */
async function fetchText(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: err instanceof Error ? err.name : String(err) };
  }
}

/** Waits until `url` answers 200 with `text`; the time it took, or Infinity after `timeoutMs`. */
export async function servedWithin(url: string, text: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await fetchText(url);
    if (r.status === 200 && r.body === text) return performance.now() - t0;
    await sleep(POLL_MS);
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Visitors of the apps while they are edited: each app is asked every
 * `intervalMs`; an answer that is not a 200 (a 502/503 during a swap, a
 * reset connection, a timeout) is a failed request.
 */
export class VisitorLoad {
  readonly failures: string[] = [];
  requests = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(urls: readonly string[], intervalMs = 100) {
    this.loops = urls.map(async (url) => {
      while (this.running) {
        const r = await fetchText(url);
        this.requests += 1;
        if (r.status !== 200) this.failures.push(`${url}: ${r.status || r.body}`);
        await sleep(intervalMs);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** `edits` successive code edits of one app: the time from each save until it is served. */
export async function measureEdits(options: {
  s: ServeStack;
  app: AppName;
  edits: number;
  timeoutMs: number;
  progress: (line: string) => void;
}): Promise<number[]> {
  const { s, app } = options;
  const url = s.stack.url(`/${app}/`);
  const file = join(s.editRoot, app, APP_ENTRY);
  const took: number[] = [];
  for (let v = 1; v <= options.edits; v++) {
    // The clock starts before the save, as a user's does.
    const t0 = performance.now();
    await writeFile(file, appSource(app, v));
    const waited = await servedWithin(url, appText(app, v), options.timeoutMs);
    took.push(waited === Number.POSITIVE_INFINITY ? waited : performance.now() - t0);
    options.progress(
      `${app} edit ${v}/${options.edits}: ${waited === Number.POSITIVE_INFINITY ? 'never served' : `${(took.at(-1)! / 1000).toFixed(2)} s`}`,
    );
  }
  return took;
}

export interface IdleResult {
  perMinute: number;
  kinds: string;
  /** Requests per minute by Compose service. */
  byService: Record<string, number>;
}

/** S3 requests the stack makes in `minutes` of nothing happening, per minute. */
export async function measureIdle(s: ServeStack, minutes: number): Promise<IdleResult> {
  s.proxy.reset();
  await sleep(minutes * 60_000);
  const requests = [...s.proxy.requests];
  const byService: Record<string, number> = {};
  for (const r of requests) {
    const service = await s.serviceOf(r.from);
    byService[service] = (byService[service] ?? 0) + 1 / minutes;
  }
  const t = tally(requests);
  return { perMinute: requests.length / minutes, kinds: describeTally(t), byService };
}
