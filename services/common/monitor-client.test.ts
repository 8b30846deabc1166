import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import {
  startJsonHookServer,
  type HookHandler,
  type JsonHookServer,
} from '../../test/support/json-hook-server.ts';
import { MonitorClient } from './monitor-client.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** The stand-in receiver, closed after each test. */
async function fakeMonitor(handler: HookHandler): Promise<JsonHookServer> {
  const server = await startJsonHookServer(handler);
  closers.push(() => server.close());
  return server;
}

function capture() {
  const lines: { level: number; msg: string; reason?: string }[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }),
    },
  );
  return {
    logger,
    lines,
    warns: () => lines.filter((l) => l.level === 40),
    infos: () => lines.filter((l) => l.level === 30),
  };
}

const accept: HookHandler = (_req, res) => {
  res.writeHead(202).end('{}');
};

describe('MonitorClient', () => {
  test('POSTs the names with the bearer token to <MONITOR_URL>/api/hooks/changed', async () => {
    const m = await fakeMonitor(accept);
    const log = capture();
    const client = new MonitorClient({
      url: `${m.url}/behind/proxy`,
      token: 'tok-123',
      logger: log.logger,
    });
    await client.notifyChanged(['shop', 'blog']);
    assert.deepEqual(m.received, [
      {
        url: '/behind/proxy/api/hooks/changed',
        authorization: 'Bearer tok-123',
        body: { workspaces: ['blog', 'shop'] },
      },
    ]);
    assert.deepEqual(log.warns(), []);
    assert.ok(!JSON.stringify(log.lines).includes('tok-123'), 'the token is never logged');
  });

  test('calls made while a request is in flight are merged into one next request', async () => {
    let gate: Promise<void> = Promise.resolve();
    const m = await fakeMonitor(async (_req, res) => {
      await gate;
      res.writeHead(202).end();
    });
    const client = new MonitorClient({ url: m.url, token: 't', logger: capture().logger });
    /** Hold the first request until the calls made meanwhile are in; return what was sent. */
    const whileHeld = async (first: string[], meanwhile: string[][]) => {
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      const before = m.received.length;
      const calls = [client.notifyChanged(first)];
      while (m.received.length === before) await new Promise((r) => setTimeout(r, 5));
      for (const names of meanwhile) calls.push(client.notifyChanged(names));
      gate = Promise.resolve();
      open();
      await Promise.all(calls);
      return m.received.slice(before).map((r) => r.body);
    };
    assert.deepEqual(await whileHeld(['a'], [['c', 'b'], ['b']]), [
      { workspaces: ['a'] },
      { workspaces: ['b', 'c'] },
    ]);
    // "Everything changed" (no names) absorbs the names waiting with it.
    assert.deepEqual(await whileHeld(['x'], [['y'], []]), [
      { workspaces: ['x'] },
      { workspaces: [] },
    ]);
  });

  test('failures never throw and are warned about once per outage', async () => {
    let status = 500;
    const m = await fakeMonitor((_req, res) => {
      res.writeHead(status).end();
    });
    const log = capture();
    const client = new MonitorClient({ url: m.url, token: 't', logger: log.logger });
    for (let i = 0; i < 3; i++) await client.notifyChanged(['a']);
    assert.equal(log.warns().length, 1);
    assert.equal(log.warns()[0]?.reason, 'HTTP 500');
    status = 202;
    await client.notifyChanged(['a']);
    assert.ok(log.infos().some((l) => l.msg === 'the monitor answers again'));
    status = 401;
    await client.notifyChanged(['a']);
    await client.notifyChanged(['a']);
    assert.equal(log.warns().length, 2, 'a new outage is warned about again');
    assert.match(log.warns()[1]?.reason ?? '', /401: MONITOR_TOKEN/);
    assert.equal(m.received.length, 6);
  });

  test('an unreachable or silent monitor costs at most the timeout', async () => {
    const log = capture();
    const m = await fakeMonitor(() => undefined); // never answers
    const silent = new MonitorClient({ url: m.url, token: 't', logger: log.logger, timeoutMs: 50 });
    await silent.notifyChanged(['a']);
    assert.equal(log.warns()[0]?.reason, 'no answer within 50 ms');

    const refused = capture();
    const closed = await fakeMonitor(accept);
    await closers.pop()!();
    const client = new MonitorClient({ url: closed.url, token: 't', logger: refused.logger });
    await client.notifyChanged(['a']);
    assert.equal(refused.warns()[0]?.reason, 'ECONNREFUSED');
  });

  test('close() abandons what is in flight and ignores later calls', async () => {
    const m = await fakeMonitor(() => undefined);
    const log = capture();
    const client = new MonitorClient({
      url: m.url,
      token: 't',
      logger: log.logger,
      timeoutMs: 60_000,
    });
    const inFlight = client.notifyChanged(['a']);
    while (m.received.length === 0) await new Promise((r) => setTimeout(r, 5));
    client.close();
    await inFlight;
    await client.notifyChanged(['b']);
    assert.equal(m.received.length, 1);
    assert.deepEqual(log.warns(), [], 'stopping is not an outage');
  });
});
