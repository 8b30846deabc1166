import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, needsRemount, optionConflicts, resolveOptions } from './mount-options.ts';

test('defaults: read-write, cache writes, engine defaults for sizes and times, no excludes', () => {
  assert.deepEqual(resolveOptions({}), { options: DEFAULT_OPTIONS, problems: [] });
});

test('every option is parsed: sizes upper-cased, durations in ms, excludes trimmed', () => {
  const { options, problems } = resolveOptions({
    readOnly: true,
    cacheMode: 'full',
    cacheSize: '1.5g',
    dirCache: '1m',
    excludes: [' *.tmp ', 'cache/**'],
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(options, {
    readOnly: true,
    cacheMode: 'full',
    cacheSize: '1.5G',
    dirCacheMs: 60_000,
    excludes: ['*.tmp', 'cache/**'],
  });
  assert.equal(resolveOptions({ dirCache: 0 }).options.dirCacheMs, 0);
});

test('every bad option is named at once', () => {
  const { problems } = resolveOptions({
    cacheMode: 'minimal',
    cacheSize: '1 gigabyte',
    dirCache: 'soon',
    excludes: ['  '],
  });
  assert.equal(problems.length, 4);
  assert.match(problems[0] ?? '', /cache mode must be one of off, writes, full/);
  assert.match(problems[1] ?? '', /cache size/);
  assert.match(problems[2] ?? '', /dir cache/);
  assert.match(problems[3] ?? '', /exclude/);
});

test('input applies over recorded options; only explicit differences conflict', () => {
  const recorded = { ...DEFAULT_OPTIONS, readOnly: true };
  const sameInput = { readOnly: true };
  assert.deepEqual(
    optionConflicts(recorded, resolveOptions(sameInput, recorded).options, sameInput),
    [],
  );
  assert.deepEqual(optionConflicts(recorded, resolveOptions({}, recorded).options, {}), []);
  const input = { readOnly: false, cacheMode: 'off' };
  const asked = resolveOptions(input, recorded).options;
  assert.deepEqual(optionConflicts(recorded, asked, input), [
    'read-only: mounted with true, asked for false',
    'cache mode: mounted with "writes", asked for "off"',
  ]);
  assert.equal(needsRemount(recorded, asked), true);
  assert.equal(needsRemount(recorded, { ...recorded, excludes: [] }), false);
});
