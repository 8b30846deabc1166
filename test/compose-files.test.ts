// The Compose files as files: every variable they read is documented in
// .env.example, every variant is valid for Compose, nothing is privileged,
// and the direct mount's rclone filter is the sync's default exclude list.
// (test/stack-e2e.test.ts runs them.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_EXCLUDES } from '../services/common/ignore/default-excludes.ts';
import { composeCommand, REPO } from './support/compose-stack.ts';

const FILES = [
  'docker-compose.yml',
  'docker-compose.rclone.yml',
  'docker-compose.s3fs.yml',
  'docker-compose.s3-direct.yml',
];

test('every variable the Compose files read is in .env.example', async () => {
  const example = await readFile(join(REPO, '.env.example'), 'utf8');
  const documented = new Set(example.match(/^[A-Z0-9_]+(?==)/gm) ?? []);
  const missing: string[] = [];
  for (const file of FILES) {
    const text = await readFile(join(REPO, file), 'utf8');
    for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)/g)) {
      if (!documented.has(name!)) missing.push(`${name} (${file})`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});

test('every variant is a valid Compose project and nothing runs privileged', () => {
  const [bin, ...pre] = composeCommand();
  for (const variant of [[], ...FILES.slice(1).map((f) => [f])]) {
    const files = ['docker-compose.yml', ...variant].flatMap((f) => ['-f', join(REPO, f)]);
    const config = execFileSync(bin!, [...pre, ...files, 'config'], {
      cwd: REPO,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BUCKETSPACE_MOUNT_ROOT: '/mnt/x' },
    });
    assert.doesNotMatch(config, /privileged:\s*true/, variant.join(' '));
    assert.match(config, /SYS_ADMIN/);
    assert.match(config, /\/mnt\/x:\/mnt\/bucketspace:rshared/);
    assert.match(config, /\/mnt\/x:\/mnt\/bucketspace:ro,rslave/);
  }
});

test("the direct mount's rclone filter is the sync's default exclude list", async () => {
  const rules = (await readFile(join(REPO, 'images/mount-rclone/default-excludes.rclone'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
  // gitignore `dir/` (a directory anywhere) is rclone `dir/**`.
  const expected = DEFAULT_EXCLUDES.map((p) => (p.endsWith('/') ? `${p}**` : p));
  assert.deepEqual(rules, expected);
});
