import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { silentLogger } from '../../common/logger.ts';
import { loadOrCreateToken, tokenProblem } from './token.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'bucketspace-token-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('loadOrCreateToken', () => {
  test('generates a strong token on the first start, mode 0600, and reuses it afterwards', async () => {
    const dataDir = join(await tempDir(), 'nested', 'data');
    const first = await loadOrCreateToken({ dataDir, logger: silentLogger() });
    assert.equal(first.created, true);
    assert.equal(first.source, 'generated');
    assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
    const path = join(dataDir, 'token');
    assert.equal(first.path, path);
    assert.equal((await readFile(path, 'utf8')).trim(), first.token);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dataDir), ['token'], 'no temporary file left behind');

    const second = await loadOrCreateToken({ dataDir, logger: silentLogger() });
    assert.deepEqual(
      { token: second.token, created: second.created, source: second.source },
      { token: first.token, created: false, source: 'file' },
    );

    const other = await loadOrCreateToken({ dataDir: await tempDir(), logger: silentLogger() });
    assert.notEqual(other.token, first.token);
  });

  test('the generated token is never written to the log', async () => {
    const { logger, lines } = capturingLogger();
    const res = await loadOrCreateToken({ dataDir: await tempDir(), logger });
    assert.ok(lines.length > 0);
    assert.ok(!JSON.stringify(lines).includes(res.token));
  });

  test('a configured token wins and nothing is written', async () => {
    const dataDir = await tempDir();
    const { logger, lines } = capturingLogger();
    const res = await loadOrCreateToken({
      dataDir,
      configured: '  a-configured-token-that-is-long  ',
      logger,
    });
    assert.deepEqual(
      { token: res.token, created: res.created, source: res.source },
      { token: 'a-configured-token-that-is-long', created: false, source: 'configured' },
    );
    assert.deepEqual(await readdir(dataDir), []);
    assert.equal(lines.filter((l) => l.level === 40).length, 0, 'no warning');
  });

  test('short MONITOR_TOKENs are refused, not warned about', async () => {
    const dataDir = await tempDir();
    for (const configured of [
      'short',
      'fifteen-chars-x',
      '  padded-short  ',
      'has space in the middle',
    ]) {
      await assert.rejects(
        loadOrCreateToken({ dataDir, configured, logger: silentLogger() }),
        (err: Error) =>
          err.message.startsWith('MONITOR_TOKEN must') && !err.message.includes(configured.trim()),
        configured,
      );
    }
    assert.deepEqual(await readdir(dataDir), [], 'nothing generated instead');
    assert.equal(tokenProblem('sixteen-chars-xx'), undefined);
  });

  test('a short token in the token file is refused with the file named', async () => {
    const dataDir = await tempDir();
    await writeFile(join(dataDir, 'token'), 'abc\n', { mode: 0o600 });
    await assert.rejects(
      loadOrCreateToken({ dataDir, logger: silentLogger() }),
      (err: Error) =>
        err.message.includes(join(dataDir, 'token')) && /at least 16/.test(err.message),
    );
  });

  test('an empty configured token means "generate one"', async () => {
    const res = await loadOrCreateToken({
      dataDir: await tempDir(),
      configured: '',
      logger: silentLogger(),
    });
    assert.equal(res.created, true);
  });

  test('a token file readable by others is restricted to 0600; an empty one is replaced', async () => {
    const dataDir = await tempDir();
    const path = join(dataDir, 'token');
    await writeFile(path, 'existing-token-value-long\n');
    await chmod(path, 0o644);
    const res = await loadOrCreateToken({ dataDir, logger: silentLogger() });
    assert.equal(res.token, 'existing-token-value-long');
    assert.equal((await stat(path)).mode & 0o777, 0o600);

    await writeFile(path, '\n');
    const fresh = await loadOrCreateToken({ dataDir, logger: silentLogger() });
    assert.equal(fresh.created, true);
    assert.equal((await readFile(path, 'utf8')).trim(), fresh.token);
  });

  test('starts racing on an empty directory agree on one token', async () => {
    const dataDir = await tempDir();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => loadOrCreateToken({ dataDir, logger: silentLogger() })),
    );
    const tokens = new Set(results.map((r) => r.token));
    assert.equal(tokens.size, 1);
    assert.equal(results.filter((r) => r.created).length, 1, 'exactly one start prints it');
    assert.equal((await readFile(join(dataDir, 'token'), 'utf8')).trim(), [...tokens][0]);
  });

  test('an unwritable data directory fails with a message naming it', async () => {
    const parent = await tempDir();
    const blocker = join(parent, 'file');
    await writeFile(blocker, 'x');
    await assert.rejects(
      loadOrCreateToken({ dataDir: join(blocker, 'data'), logger: silentLogger() }),
      (err: Error) => err.message.includes(blocker),
    );
  });
});
