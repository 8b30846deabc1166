import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readPyproject } from './pyproject.ts';

describe('readPyproject', () => {
  test('name and [project.scripts] in order; other tables ignored', () => {
    const text = [
      '[build-system]',
      'requires = ["hatchling"]',
      '',
      '[ project ]  # the project',
      "name = 'shop'",
      'dependencies = [',
      '  "flask",',
      ']',
      '[project . scripts]',
      'serve = "shop:main"',
      '"quoted-name" = "shop:other"',
      '[[tool.mypy.overrides]]',
      'x = 1',
      '[tool.poetry.scripts]',
      'nope = "x"',
    ].join('\r\n');
    assert.deepEqual(readPyproject(text), {
      hasProject: true,
      name: 'shop',
      scripts: ['serve', 'quoted-name'],
    });
  });

  test('no [project] table', () => {
    assert.deepEqual(readPyproject('[tool.ruff]\nline-length = 100\n'), {
      hasProject: false,
      name: undefined,
      scripts: [],
    });
  });
});
