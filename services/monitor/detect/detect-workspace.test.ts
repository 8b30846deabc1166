import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeOf } from '../../../test/support/workspace-probe.ts';
import type { Detection, RunPlan } from '../types.ts';
import { DETECTION_FILES, detectWorkspace, isDetectionPath } from './detect-workspace.ts';

const NODE = '{"scripts":{"start":"node s.js"}}';

function plan(files: Record<string, string | null>, name?: string): RunPlan {
  const detection = detectWorkspace(probeOf(files, name));
  assert.equal(detection.kind, 'runnable', JSON.stringify(detection));
  return detection.kind === 'runnable' ? detection.plan : assert.fail();
}

function detect(files: Record<string, string | null>, name?: string): Detection {
  return detectWorkspace(probeOf(files, name));
}

describe('detectWorkspace: detected plans, with their reasons', () => {
  test('node', () => {
    assert.deepEqual(plan({ 'package.json': NODE, 'package-lock.json': null }), {
      type: 'node',
      install: 'npm ci',
      start: 'npm start',
      port: 3000,
      env: {},
      reason:
        'node (package.json); start: npm start (scripts.start); install: npm ci (package-lock.json); port 3000 (node default)',
      source: 'detected',
    });
  });

  test('python', () => {
    assert.deepEqual(plan({ 'requirements.txt': null, 'app.py': null }), {
      type: 'python',
      install: 'python -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.txt',
      start: 'python app.py',
      port: 8000,
      env: {},
      reason:
        'python (requirements.txt, app.py); start: python app.py (app.py; the app reads PORT); install: pip into /app/.venv (requirements.txt); port 8000 (python default)',
      source: 'detected',
    });
  });

  test('go', () => {
    const go = plan({ 'go.mod': null, 'main.go': null });
    assert.deepEqual([go.type, go.port, go.install], ['go', 8080, 'go mod download']);
    assert.equal(
      go.reason,
      'go (go.mod); start: build . then run it (Go files at the root); install: go mod download (go.mod); port 8080 (go default)',
    );
  });

  test('static', () => {
    assert.deepEqual(plan({ 'public/index.html': null }), {
      type: 'static',
      install: null,
      start: 'nginx (serves /app/public)',
      port: 8080,
      env: {},
      reason:
        'static (public/index.html); start: nginx serves /app/public (public/index.html); install: nothing (static files); port 8080 (static default)',
      source: 'detected',
    });
  });

  test('nothing recognised: unrecognized, listing what was looked for', () => {
    assert.deepEqual(detect({ 'README.md': null, 'src/app.py': null }), {
      kind: 'unrecognized',
      reason:
        'nothing says how to run it: looked for workspace.json, package.json, requirements.txt, pyproject.toml, app.py, main.py, manage.py, go.mod, main.go, index.html or public/index.html',
    });
    assert.equal(detect({}).kind, 'unrecognized');
  });
});

describe('detectWorkspace: order and precedence', () => {
  test('node before python before go before static', () => {
    const all = {
      'package.json': NODE,
      'app.py': null,
      'go.mod': null,
      'main.go': null,
      'index.html': null,
    };
    assert.equal(plan(all).type, 'node');
    const noNode: Record<string, string | null> = { ...all };
    delete noNode['package.json'];
    assert.equal(plan(noNode).type, 'python');
    const goAndStatic = { ...noNode };
    delete goAndStatic['app.py'];
    assert.equal(plan(goAndStatic).type, 'go');
    assert.equal(plan({ 'index.html': null }).type, 'static');
  });

  test('a detector that cannot start the app gives way to the next one', () => {
    // package.json for tooling only (prettier) in a Flask app, or a static site.
    const tooling = '{"devDependencies":{"prettier":"3"}}';
    assert.equal(plan({ 'package.json': tooling, 'app.py': null }).type, 'python');
    assert.equal(plan({ 'package.json': tooling, 'index.html': null }).type, 'static');
  });

  test('no detector can start it: unrecognized, saying what each one missed', () => {
    assert.deepEqual(detect({ 'package.json': '{}', 'requirements.txt': null }), {
      kind: 'unrecognized',
      reason:
        'no start command: node: package.json has no scripts.start or main, and there is no index.js or server.js; ' +
        'python: no app.py, main.py or manage.py, and no [project.scripts] in a pyproject.toml; ' +
        'set "command" in workspace.json',
    });
  });

  test('a malformed package.json is invalid even when another runtime would match', () => {
    assert.deepEqual(detect({ 'package.json': '{', 'app.py': null }), {
      kind: 'invalid',
      reason:
        "package.json is not valid JSON: Expected property name or '}' in JSON at position 1 (line 1 column 2)",
    });
  });

  test('the name is checked before anything else', () => {
    assert.deepEqual(detect({ 'workspace.json': '{', 'package.json': NODE }, 'api'), {
      kind: 'invalid',
      reason: `invalid workspace name: "api" is reserved for the monitor's own route /api; rename the directory`,
    });
    const bad = detect({ 'package.json': NODE }, 'Shop');
    assert.equal(bad.kind, 'invalid');
    assert.match(
      bad.kind === 'invalid' ? bad.reason : '',
      /^invalid workspace name: "Shop" contains uppercase/,
    );
  });
});

describe('detectWorkspace: workspace.json', () => {
  test('only port: combined with detection, and the reason says so', () => {
    assert.deepEqual(plan({ 'workspace.json': '{"port": 4000}', 'package.json': NODE }), {
      type: 'node',
      install: null,
      start: 'npm start',
      port: 4000,
      env: {},
      reason:
        'workspace.json sets port; the rest is detected: node (package.json); start: npm start (scripts.start); ' +
        'install: nothing (no lockfile and no dependencies in package.json); port 4000 (workspace.json)',
      source: 'workspace.json',
    });
  });

  test('replicas: on the plan and in the reason only when workspace.json sets it', () => {
    const three = plan({ 'workspace.json': '{"replicas": 3}', 'package.json': NODE });
    assert.equal(three.replicas, 3);
    assert.match(
      three.reason,
      /^workspace\.json sets replicas; the rest is detected: .*; replicas 3 \(workspace\.json\)$/,
    );
    assert.equal('replicas' in plan({ 'package.json': NODE }), false);
  });

  test('type picks the detector even when an earlier one matches', () => {
    const python = plan({
      'workspace.json': '{"type": "python"}',
      'package.json': NODE,
      'requirements.txt': null,
      'main.py': null,
    });
    assert.deepEqual([python.type, python.start, python.port], ['python', 'python main.py', 8000]);
    assert.match(
      python.reason,
      /^workspace\.json sets type; the rest is detected: python \(workspace\.json\); start: python main\.py/,
    );
    // The chosen type's files only: a broken package.json does not matter to a python workspace.
    assert.equal(
      plan({ 'workspace.json': '{"type":"python"}', 'package.json': '{', 'app.py': null }).type,
      'python',
    );
  });

  test('command completes a detector that found no start', () => {
    const result = plan({
      'workspace.json': '{"command": "gunicorn -b 0.0.0.0:$PORT app:app"}',
      'requirements.txt': null,
    });
    assert.deepEqual(
      [result.type, result.start, result.install],
      [
        'python',
        'gunicorn -b 0.0.0.0:$PORT app:app',
        'python -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.txt',
      ],
    );
    assert.equal(
      result.reason,
      'workspace.json sets command; the rest is detected: python (requirements.txt); start: command from workspace.json; ' +
        'install: pip into /app/.venv (requirements.txt); port 8000 (python default)',
    );
  });

  test('command with a start detected: workspace.json wins', () => {
    assert.equal(
      plan({ 'workspace.json': '{"command":"node x.js"}', 'package.json': NODE }).start,
      'node x.js',
    );
  });

  test('install: a command, or null for nothing, replaces the detected one', () => {
    const files = { 'package.json': NODE, 'package-lock.json': null };
    assert.equal(
      plan({ ...files, 'workspace.json': '{"install":"npm ci --omit=dev"}' }).install,
      'npm ci --omit=dev',
    );
    const none = plan({ ...files, 'workspace.json': '{"install":null}' });
    assert.equal(none.install, null);
    assert.match(none.reason, /install: nothing \(workspace\.json\)/);
  });

  test('everything set: no file needed, no "rest is detected"', () => {
    assert.deepEqual(
      plan({
        'workspace.json':
          '{"type":"go","command":"./bin/app","install":"make","port":9000,"env":{"MODE":"prod","N":2}}',
      }),
      {
        type: 'go',
        install: 'make',
        start: './bin/app',
        port: 9000,
        env: { MODE: 'prod', N: '2' },
        reason:
          'workspace.json sets type, port, command, install, env: go (workspace.json); start: command from workspace.json; ' +
          'install: make (workspace.json); port 9000 (workspace.json); env MODE, N (workspace.json)',
        source: 'workspace.json',
      },
    );
  });

  test('type without files: install nothing, and a start command is required', () => {
    assert.match(
      plan({ 'workspace.json': '{"type":"node","command":"node x.js"}' }).reason,
      /install: nothing \(no package\.json\)/,
    );
    assert.deepEqual(detect({ 'workspace.json': '{"type":"go"}' }), {
      kind: 'invalid',
      reason:
        'workspace.json sets type go, but there is no start command (no go.mod or main.go); add "command"',
    });
    assert.deepEqual(detect({ 'workspace.json': '{"type":"node"}', 'package.json': '{}' }), {
      kind: 'invalid',
      reason:
        'workspace.json sets type node, but there is no start command (package.json has no scripts.start or main, and there is no index.js or server.js); add "command"',
    });
  });

  test('command without type and nothing to say which runtime: invalid', () => {
    const result = detect({ 'workspace.json': '{"command":"./run.sh"}', 'run.sh': null });
    assert.equal(result.kind, 'invalid');
    assert.match(
      result.kind === 'invalid' ? result.reason : '',
      /^workspace\.json sets "command" but not "type", and no file says which runtime \(looked for .*\); add "type"$/,
    );
  });

  test('static takes no command or install', () => {
    assert.deepEqual(detect({ 'workspace.json': '{"install":"npm ci"}', 'index.html': null }), {
      kind: 'invalid',
      reason:
        'workspace.json: "install" cannot be used with type static (nginx serves the files; there is nothing to run or install)',
    });
    assert.match(
      JSON.stringify(
        detect({ 'workspace.json': '{"type":"static","command":"x","install":null}' }),
      ),
      /"command\\" and \\"install\\" cannot be used with type static/,
    );
    assert.equal(plan({ 'workspace.json': '{"port":9090}', 'index.html': null }).port, 9090);
  });

  test('an invalid or unreadable workspace.json is never run', () => {
    assert.deepEqual(detect({ 'workspace.json': '{"port": "x"}', 'package.json': NODE }), {
      kind: 'invalid',
      reason: 'workspace.json: "port" must be a number from 1 to 65535 (got "x")',
    });
    assert.deepEqual(detect({ 'workspace.json': null, 'package.json': NODE }), {
      kind: 'invalid',
      reason: 'workspace.json could not be read (see the scan errors)',
    });
  });

  test('an empty workspace.json changes nothing', () => {
    const result = plan({ 'workspace.json': '{}', 'package.json': NODE });
    assert.equal(result.source, 'detected');
    assert.doesNotMatch(result.reason, /workspace\.json/);
  });
});

describe('what the scanner must provide', () => {
  test('DETECTION_FILES are the texts detection (and the dependency plan) reads', () => {
    assert.deepEqual(DETECTION_FILES, [
      'workspace.json',
      'package.json',
      'pyproject.toml',
      'requirements.txt',
    ]);
  });

  test('isDetectionPath: root files, public/index.html, cmd/*/main.go', () => {
    for (const yes of ['package.json', 'x.go', 'public/index.html', 'cmd/api/main.go']) {
      assert.equal(isDetectionPath(yes), true, yes);
    }
    for (const no of ['src/app.py', 'public/x.html', 'cmd/api/x.go', 'cmd/a/b/main.go']) {
      assert.equal(isDetectionPath(no), false, no);
    }
  });
});
