import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  isWorkspaceEntryName,
  RESERVED_WORKSPACE_NAMES,
  validateWorkspaceName,
  workspaceArgumentProblem,
} from './workspace-name.ts';

describe('validateWorkspaceName', () => {
  test('accepts DNS labels', () => {
    for (const name of ['shop', 'a', '0', 'my-app-2', 'x'.repeat(63), '3d', 'a--b']) {
      assert.equal(validateWorkspaceName(name), undefined, name);
    }
  });

  test('refuses every name the monitor routes itself', () => {
    for (const name of RESERVED_WORKSPACE_NAMES) {
      assert.match(validateWorkspaceName(name) ?? '', /reserved for the monitor's own route/, name);
    }
    assert.equal(
      validateWorkspaceName('api'),
      `"api" is reserved for the monitor's own route /api; rename the directory`,
    );
  });

  test('says exactly what is wrong and suggests a name', () => {
    assert.equal(
      validateWorkspaceName('My_App'),
      '"My_App" contains uppercase letters, contains "_": a workspace name may hold only ' +
        'lowercase letters, digits and "-" (not first or last), at most 63 characters; ' +
        'rename the directory, e.g. to "my-app"',
    );
    assert.match(validateWorkspaceName('-x') ?? '', /^"-x" starts with "-": .* e\.g\. to "x"$/);
    assert.match(validateWorkspaceName('x-') ?? '', /^"x-" ends with "-": .* e\.g\. to "x"$/);
    assert.match(validateWorkspaceName('a.b') ?? '', /^"a\.b" contains "\.": .*"a-b"$/);
    assert.match(validateWorkspaceName('my app') ?? '', /^"my app" contains a space:/);
    assert.match(validateWorkspaceName('café') ?? '', /contains "é" \(U\+00E9\)/);
    assert.match(validateWorkspaceName('a\tb') ?? '', /contains control character U\+0009/);
    assert.equal(validateWorkspaceName(''), 'the name is empty');
  });

  test('too long: the length, and a suggestion cut to 63', () => {
    const reason = validateWorkspaceName('a'.repeat(64)) ?? '';
    assert.match(reason, /is 64 characters long \(at most 63, a DNS label\)/);
    assert.match(reason, new RegExp(`e\\.g\\. to "${'a'.repeat(63)}"$`));
  });

  test('no suggestion when nothing valid is left', () => {
    assert.doesNotMatch(validateWorkspaceName('___') ?? '', /e\.g\./);
    // Lowercasing "API" would give a reserved name: not suggested.
    assert.doesNotMatch(validateWorkspaceName('API') ?? '', /e\.g\./);
  });
});

describe('isWorkspaceEntryName', () => {
  test('hidden entries are never workspaces', () => {
    for (const name of ['.bucketspace-backup', '.git', '.', '..', ''])
      assert.equal(isWorkspaceEntryName(name), false, name);
    for (const name of ['app', 'My App', 'a.b'])
      assert.equal(isWorkspaceEntryName(name), true, name);
  });
});

describe('workspaceArgumentProblem', () => {
  test('one directory name, never a path or a hidden entry', () => {
    for (const name of ['app', 'UPPER', 'a.b'])
      assert.equal(workspaceArgumentProblem(name), undefined);
    assert.equal(workspaceArgumentProblem(''), 'the name is empty');
    for (const name of ['../etc', 'a/b', 'a\\b', 'a\0b'])
      assert.match(workspaceArgumentProblem(name) ?? '', /is a path/, name);
    for (const name of ['.', '..', '.hidden'])
      assert.match(workspaceArgumentProblem(name) ?? '', /hidden/, name);
  });
});
