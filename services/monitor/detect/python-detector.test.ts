import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeOf } from '../../../test/support/workspace-probe.ts';
import { pythonDetector } from './python-detector.ts';

const VENV = 'python -m venv /app/.venv';
const PIP = '/app/.venv/bin/pip install';
const PROJECT = '[project]\nname = "shop"\ndependencies = ["flask"]\n';

function found(files: Record<string, string | null>) {
  const result = pythonDetector.detect(probeOf(files));
  assert.equal(result.kind, 'found', JSON.stringify(result));
  return result.kind === 'found' ? result : assert.fail();
}

describe('pythonDetector', () => {
  test('none without any Python sign', () => {
    assert.deepEqual(pythonDetector.detect(probeOf({ 'x.py': null })), { kind: 'none' });
  });

  test('requirements.txt + app.py: venv install, python app.py', () => {
    const result = found({ 'requirements.txt': null, 'app.py': null, 'main.py': null });
    assert.deepEqual(result, {
      kind: 'found',
      evidence: 'requirements.txt, app.py, main.py',
      start: 'python app.py',
      startReason: 'python app.py (app.py; the app reads PORT)',
      install: `${VENV} && ${PIP} -r requirements.txt`,
      installReason: 'pip into /app/.venv (requirements.txt)',
    });
  });

  test('main.py alone: python main.py, nothing to install', () => {
    const result = found({ 'main.py': null });
    assert.deepEqual(
      [result.start, result.install, result.installReason],
      ['python main.py', null, 'nothing (no requirements.txt or pyproject.toml)'],
    );
  });

  test('manage.py: Django runserver on $PORT', () => {
    assert.equal(
      found({ 'manage.py': null, 'requirements.txt': null }).start,
      'python manage.py runserver 0.0.0.0:$PORT',
    );
  });

  test('pyproject [project.scripts]: the only script, installed with pip install .', () => {
    const result = found({
      'pyproject.toml': `${PROJECT}[project.scripts]\nserve = "shop:main"\n`,
    });
    assert.deepEqual(
      [result.start, result.startReason, result.install],
      [
        'serve',
        'serve (its only [project.scripts] in pyproject.toml; the app reads PORT)',
        `${VENV} && ${PIP} .`,
      ],
    );
  });

  test('several scripts: the one named like the project, else no start', () => {
    const named = `${PROJECT}[project.scripts]\nshop-admin = "a:b"\nshop = "shop:main"\n`;
    assert.equal(found({ 'pyproject.toml': named }).start, 'shop');
    const unnamed = `${PROJECT}[project.scripts]\na = "a:b"\nb = "b:c"\n`;
    const result = found({ 'pyproject.toml': unnamed });
    assert.deepEqual(
      [result.start, result.startReason],
      [
        null,
        'pyproject.toml has several [project.scripts] (a, b) and none is named like the project',
      ],
    );
  });

  test('requirements.txt and a [project]: requirements only, unless a script starts the app', () => {
    const app = found({ 'requirements.txt': null, 'pyproject.toml': PROJECT, 'app.py': null });
    assert.equal(app.install, `${VENV} && ${PIP} -r requirements.txt`);
    const script = found({
      'requirements.txt': null,
      'pyproject.toml': `${PROJECT}[project.scripts]\nshop = "shop:main"\n`,
    });
    assert.deepEqual(
      [script.install, script.installReason],
      [
        `${VENV} && ${PIP} -r requirements.txt && ${PIP} .`,
        'pip into /app/.venv (requirements.txt, [project] in pyproject.toml)',
      ],
    );
  });

  test('a pyproject.toml of tool settings only installs nothing', () => {
    const result = found({ 'pyproject.toml': '[tool.black]\nline-length = 100\n', 'app.py': null });
    assert.deepEqual(
      [result.install, result.installReason],
      [null, 'nothing (no requirements.txt, and pyproject.toml has no [project] table)'],
    );
  });

  test('requirements.txt alone: found, no start, the reason says what is missing', () => {
    const result = found({ 'requirements.txt': null });
    assert.deepEqual(
      [result.start, result.startReason],
      [null, 'no app.py, main.py or manage.py, and no [project.scripts] in a pyproject.toml'],
    );
  });

  test('pyproject.toml listed but unreadable is invalid', () => {
    assert.deepEqual(pythonDetector.detect(probeOf({ 'pyproject.toml': null })), {
      kind: 'invalid',
      reason: 'pyproject.toml could not be read (see the scan errors)',
    });
  });
});
