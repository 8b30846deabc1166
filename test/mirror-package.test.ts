// The package as another project gets it: `npm pack` of this repository (its prepack compiles
// dist/), installed into a temporary project, `bucketspace/mirror` imported by a plain .mjs
// script that downloads and uploads against the test S3; the bins and the type declarations too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mirrorSandbox } from './support/mirror-fixture.ts';
import { useTestS3 } from './support/s3-fixture.ts';

const fixture = useTestS3();
const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(REPO, 'node_modules', '.bin', 'tsc');

function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        timeout: 240_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : null,
          stdout,
          stderr,
        }),
    );
  });
}

const CONSUMER_SCRIPT = `// A project of its own, no TypeScript: the mirror as a dependency.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isBucketspaceError, withMirror } from 'bucketspace/mirror';

const [bucket, cacheRoot] = process.argv.slice(2);
const result = await withMirror({ cacheRoot, showProgress: false }, async (m) => {
  const data = await m.download(\`s3://\${bucket}/in\`);
  const input = await readFile(join(data, 'input.txt'), 'utf8');
  const out = await m.upload(\`s3://\${bucket}/out\`, { interval: null });
  await writeFile(join(out, 'result.txt'), input.toUpperCase());
  let code;
  try {
    await m.download('gs://elsewhere/x');
  } catch (err) {
    code = isBucketspaceError(err) ? err.code : 'not a BucketspaceError';
  }
  return { data, out, code };
});
process.stdout.write(JSON.stringify(result) + '\\n');
`;

const CONSUMER_TYPES = `import { mirror, type MirrorEvent, type MirrorReport } from 'bucketspace/mirror';

const events: MirrorEvent[] = [];
await using m = await mirror({ maxWorkers: 4, onEvent: (e) => events.push(e) });
const local: string = await m.sync('s3://bucket/ckpt', { interval: '60s', deleteRemote: false });
const keys: string[] = await m.ls('s3://bucket/data', { recursive: true });
const reports: MirrorReport[] = events.flatMap((e) => (e.type === 'end' ? [e.report] : []));
console.log(local, keys, reports);
`;

test('npm pack -> npm install in another project: a plain .mjs imports bucketspace/mirror, downloads and uploads; the bin runs; the types check', async () => {
  const box = await mirrorSandbox(fixture);
  const work = await mkdtemp(join(tmpdir(), 'bucketspace-package-'));
  try {
    const pack = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO });
    assert.equal(pack.code, 0, pack.stderr.slice(-4000));
    const [packed] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as {
      filename: string;
      files: { path: string }[];
    }[];
    assert.ok(packed, pack.stdout);
    const files = packed.files.map((f) => f.path);
    for (const needed of [
      'dist/services/mirror/index.js',
      'dist/services/mirror/index.d.ts',
      'dist/services/cli.js',
      'dist/services/monitor/http/dashboard/index.html',
      'dist/bin/cli.js',
      'dist/bin/mount-bucket.js',
      'dist/bin/unmount-bucket.js',
      'dist/bin/dashboard/index.html',
      'bin/bucketspace.js',
    ])
      assert.ok(files.includes(needed), `${needed} is packed`);
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
      'no TypeScript sources: Node would not run them from node_modules',
    );
    assert.deepEqual(
      files.filter((f) => /\.test\./.test(f)),
      [],
      'no tests',
    );

    const project = join(work, 'consumer');
    await mkdir(project);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    const install = await run(
      'npm',
      ['install', join(work, packed.filename), '--prefer-offline', '--no-audit', '--no-fund'],
      { cwd: project },
    );
    assert.equal(install.code, 0, install.stderr.slice(-4000));

    await box.put({ 'in/input.txt': 'hello from s3' });
    await writeFile(join(project, 'use-mirror.mjs'), CONSUMER_SCRIPT);
    const env = { ...box.env(), LOG_LEVEL: 'warn' };
    const used = await run(process.execPath, ['use-mirror.mjs', box.bucket, join(work, 'cache')], {
      cwd: project,
      env,
    });
    assert.equal(used.code, 0, used.stderr);
    const result = JSON.parse(used.stdout) as { data: string; out: string; code: string };
    assert.equal(result.data, join(work, 'cache', box.bucket, 'in'));
    assert.equal(result.code, 'INVALID_INPUT');
    assert.equal(await box.read('out/result.txt'), 'HELLO FROM S3');

    const bin = await run(
      join(project, 'node_modules', '.bin', 'bucketspace'),
      ['mirror', 'ls', `s3://${box.bucket}/`, '--recursive'],
      {
        cwd: project,
        env: { ...env, PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}` },
      },
    );
    assert.equal(bin.code, 0, bin.stderr);
    assert.equal(
      bin.stdout,
      `s3://${box.bucket}/in/input.txt\ns3://${box.bucket}/out/result.txt\n`,
    );
    // The top-level help loads every subcommand's module: each chunk of the bundled bins.
    const help = await run(join(project, 'node_modules', '.bin', 'bucketspace'), ['--help'], {
      cwd: project,
      env: { ...env, PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}` },
    });
    assert.equal(help.code, 0, help.stderr);
    for (const sub of ['sync', 'monitor', 'mount', 'stack', 'mirror'])
      assert.match(help.stdout, new RegExp(`^\\s+${sub}\\b`, 'm'), `${sub} in the help`);

    // One compiler run: check.ts must have no error, wrong.ts exactly the one it was given.
    await writeFile(join(project, 'check.ts'), CONSUMER_TYPES);
    await writeFile(
      join(project, 'wrong.ts'),
      `import { mirror } from 'bucketspace/mirror';\nawait using m = await mirror();\nconst wrong: number = await m.ls('s3://bucket/data');\nconsole.log(wrong);\n`,
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['es2024', 'esnext.disposable'],
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['check.ts', 'wrong.ts'],
      }),
    );
    const types = await run(TSC, ['-p', 'tsconfig.json', '--pretty', 'false'], { cwd: project });
    const errors = types.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    assert.equal(errors.length, 1, types.stdout + types.stderr);
    assert.match(
      errors[0] ?? '',
      /^wrong\.ts\(3,7\): error TS2322: Type 'string\[\]' is not assignable to type 'number'/,
      'the declarations are real types, not any',
    );
  } finally {
    await rm(work, { recursive: true, force: true });
    await box.remove();
  }
});
