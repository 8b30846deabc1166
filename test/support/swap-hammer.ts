import assert from 'node:assert/strict';

/** What requests saw while a workspace was swapped for a new version. */
export interface SwapRequests {
  requests: number;
  /** Answers other than a 200 (and requests that failed outright), with what they were. */
  failures: string[];
  sawNew: boolean;
}

/**
 * Send requests one after another until one answers with the new version
 * (`200 <newPrefix>...`), or the time runs out; count every answer that was
 * not a 200. Start it, then make the change.
 */
export async function requestsDuringSwap(
  request: () => Promise<string>,
  newPrefix: string,
  timeoutMs = 120_000,
): Promise<SwapRequests> {
  const out: SwapRequests = { requests: 0, failures: [], sawNew: false };
  const deadline = Date.now() + timeoutMs;
  while (!out.sawNew && Date.now() < deadline) {
    const text = await request().catch((err: unknown) => `ERR ${String(err)}`);
    out.requests += 1;
    if (!text.startsWith('200 ')) out.failures.push(text.slice(0, 120));
    if (text.startsWith(`200 ${newPrefix}`)) out.sawNew = true;
  }
  return out;
}

/**
 * Make a change while requests run back to back (`requestsDuringSwap`), and
 * assert that the new version answered and that no request failed.
 */
export async function assertNoFailedRequest(
  request: () => Promise<string>,
  newPrefix: string,
  change: () => Promise<void>,
): Promise<void> {
  const hammer = requestsDuringSwap(request, newPrefix);
  await change();
  const { sawNew, failures, requests } = await hammer;
  assert.ok(sawNew, 'the new version answered');
  assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
}
