// The `bucketspace` entry point: the top-level help knows every subcommand; a
// subcommand loads only its own modules (decision 0054).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './support/run-cli.ts';

/** The file URLs a TRACE_LOADS run printed. */
const loadedBy = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));

/** Loaded before the CLI: prints every file URL Node loads, one per line, on stderr. */
const TRACE_LOADS = `data:text/javascript,${encodeURIComponent(
  "import { registerHooks } from 'node:module';" +
    "registerHooks({ load(url, context, next) { if (url.startsWith('file:')) process.stderr.write('LOADED ' + url + '\\n'); return next(url, context); } });",
)}`;

describe('the bucketspace entry point', () => {
  test('the top-level help lists every subcommand', async () => {
    const res = await runCli(['--help'], {});
    assert.equal(res.code, 0, res.stderr);
    for (const name of ['sync', 'monitor', 'mount', 'stack', 'mirror'])
      assert.match(res.stdout, new RegExp(`^\\s+${name}\\b`, 'm'), `${name} in:\n${res.stdout}`);
  });

  test('regression: sync loads none of the monitor, mount, stack or mirror modules (every subcommand was loaded)', async () => {
    const res = await runCli(['sync', '--help'], { NODE_OPTIONS: `--import=${TRACE_LOADS}` });
    assert.equal(res.code, 0, res.stderr);
    const loaded = loadedBy(res.stderr);
    assert.ok(
      loaded.some((u) => u.endsWith('/services/sync/sync-command.ts')),
      `the sync command itself was loaded:\n${loaded.join('\n')}`,
    );
    const foreign = loaded.filter((u) =>
      /\/services\/(monitor|mounts|stack|mirror)\/|\/node_modules\/(express|dockerode)\//.test(u),
    );
    assert.deepEqual(foreign, [], 'modules of other subcommands');
  });

  test('--version prints the version and loads no subcommand (it loaded all of them: 0.3 s)', async () => {
    const res = await runCli(['--version'], { NODE_OPTIONS: `--import=${TRACE_LOADS}` });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), '0.1.0');
    const subcommands = loadedBy(res.stderr).filter((u) => /-command\.ts$/.test(u));
    assert.deepEqual(subcommands, [], 'subcommand modules loaded for --version');
  });
});
