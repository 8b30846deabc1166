import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  escapeGlob,
  expandGlobstarQuirk,
  parseIgnoreFile,
  parsePatternList,
  rootRelativePatterns,
  splitLines,
  trimTrailingSpaces,
} from './parse-ignore-file.ts';

describe('splitLines', () => {
  test('drops a BOM, one CR per line and the final empty line', () => {
    assert.deepEqual(splitLines('\uFEFFa\r\nb\r\r\n\nc'), ['a', 'b\r', '', 'c']);
    assert.deepEqual(splitLines('a\n'), ['a']);
    assert.deepEqual(splitLines(''), []);
  });
});

describe('trimTrailingSpaces (git trim_trailing_spaces)', () => {
  test('strips unescaped trailing spaces only', () => {
    assert.equal(trimTrailingSpaces('foo   '), 'foo');
    assert.equal(trimTrailingSpaces('foo\\ '), 'foo\\ ');
    assert.equal(trimTrailingSpaces('foo\\  '), 'foo\\ ');
    assert.equal(trimTrailingSpaces('foo\\\\ '), 'foo\\\\');
    assert.equal(trimTrailingSpaces('a b'), 'a b');
    assert.equal(trimTrailingSpaces('foo\t'), 'foo\t');
    assert.equal(trimTrailingSpaces('foo\\'), 'foo\\');
  });
});

describe('rootRelativePatterns', () => {
  test('root patterns stay as written (anchored ones get one leading slash)', () => {
    assert.deepEqual(rootRelativePatterns('foo', ''), ['foo']);
    assert.deepEqual(rootRelativePatterns('foo/', ''), ['foo/']);
    assert.deepEqual(rootRelativePatterns('/foo', ''), ['/foo']);
    assert.deepEqual(rootRelativePatterns('a/b/', ''), ['/a/b/']);
    assert.deepEqual(rootRelativePatterns('**/x', ''), ['/**/x']);
  });

  test('unanchored nested patterns match at any depth below their directory', () => {
    assert.deepEqual(rootRelativePatterns('foo', 'sub/x'), ['/sub/x/**/foo']);
    assert.deepEqual(rootRelativePatterns('*.tmp', 'sub'), ['/sub/**/*.tmp']);
    assert.deepEqual(rootRelativePatterns('foo/', 'sub'), ['/sub/**/foo/']);
  });

  test('anchored nested patterns are relative to their directory', () => {
    assert.deepEqual(rootRelativePatterns('/foo', 'sub/x'), ['/sub/x/foo']);
    assert.deepEqual(rootRelativePatterns('a/b', 'sub'), ['/sub/a/b']);
    assert.deepEqual(rootRelativePatterns('a/**/b/', 'sub'), ['/sub/a/**/b/']);
  });

  test('glob characters in the directory are escaped', () => {
    assert.deepEqual(rootRelativePatterns('a', 'x[1]/st*r/q?/b\\s'), [
      '/x\\[1\\]/st\\*r/q\\?/b\\\\s/**/a',
    ]);
    assert.equal(escapeGlob('#!a b'), '#!a b');
  });

  test('patterns that match nothing in git produce nothing', () => {
    assert.deepEqual(rootRelativePatterns('/', ''), []);
    assert.deepEqual(rootRelativePatterns('', 'sub'), []);
  });
});

describe('expandGlobstarQuirk', () => {
  test('a ** right after a literal head is a globstar in git', () => {
    assert.deepEqual(expandGlobstarQuirk('a**/b'), ['ab', 'a*/**/b']);
    assert.deepEqual(expandGlobstarQuirk('a***/b'), ['ab', 'a*/**/b']);
    assert.deepEqual(expandGlobstarQuirk('x/a**'), ['x/a*', 'x/a*/**']);
    assert.deepEqual(expandGlobstarQuirk('a**/**/b'), ['ab', 'a*/**/b', 'a*/**/**/b']);
  });

  test('leaves every other pattern alone', () => {
    for (const p of ['**/b', 'a/**/b', 'a/**', '*a**/b', 'a?**/b', 'a**b/c', 'a*/b']) {
      assert.deepEqual(expandGlobstarQuirk(p), [p]);
    }
  });
});

describe('parseIgnoreFile', () => {
  test('gitignore: comments, blanks, negation, escapes, line numbers', () => {
    const rules = parseIgnoreFile('# c\n\nfoo  \n!bar/\n\\#x\n\\!y\n!#z\n', {
      syntax: 'gitignore',
      source: 'sub/.gitignore',
      dir: 'sub',
    });
    assert.deepEqual(
      rules.map((r) => [r.ref.line, r.ref.pattern, r.ref.negative, r.patterns]),
      [
        [3, 'foo  ', false, ['/sub/**/foo']],
        [4, '!bar/', true, ['!/sub/**/bar/']],
        [5, '\\#x', false, ['/sub/**/\\#x']],
        [6, '\\!y', false, ['/sub/**/\\!y']],
        [7, '!#z', true, ['!/sub/**/#z']],
      ],
    );
    assert.equal(rules[0]?.ref.source, 'sub/.gitignore');
  });

  test('dockerignore: anchored at the root, trimmed, cleaned', () => {
    const rules = parseIgnoreFile(
      '# comment\n  foo  \n!foo/keep\n./bar/\n**/*.tmp\n/abs\n! spaced\n.\n../out\n',
      { syntax: 'dockerignore', source: '.dockerignore' },
    );
    assert.deepEqual(
      rules.map((r) => r.patterns),
      [['/foo'], ['!/foo/keep'], ['/bar'], ['/**/*.tmp'], ['/abs'], ['!/spaced']],
    );
  });

  test('pattern lists are numbered by index', () => {
    const rules = parsePatternList(['a', '', '# c', 'b/'], '<settings>');
    assert.deepEqual(
      rules.map((r) => [r.ref.source, r.ref.line, r.patterns]),
      [
        ['<settings>', 1, ['a']],
        ['<settings>', 4, ['b/']],
      ],
    );
  });
});
