import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configuredFields, parseWorkspaceConfig } from './workspace-config.ts';

function problem(text: string): string {
  const parsed = parseWorkspaceConfig(text);
  assert.equal(parsed.ok, false, `expected ${text} to be refused`);
  return parsed.ok ? '' : parsed.reason;
}

describe('parseWorkspaceConfig', () => {
  test('every field, env values made strings', () => {
    const parsed = parseWorkspaceConfig(
      '\uFEFF{"type":"go","port":9000,"command":" ./run ","install":"make deps",' +
        '"env":{"MODE":"prod","WORKERS":4,"DEBUG":false,"_X":""}}',
    );
    assert.deepEqual(parsed, {
      ok: true,
      config: {
        type: 'go',
        port: 9000,
        command: './run',
        install: 'make deps',
        env: { MODE: 'prod', WORKERS: '4', DEBUG: 'false', _X: '' },
      },
    });
    assert.deepEqual(parseWorkspaceConfig('{"install": null}'), {
      ok: true,
      config: { install: null },
    });
    assert.deepEqual(parseWorkspaceConfig('{}'), { ok: true, config: {} });
  });

  test('configuredFields lists what is set, null install included', () => {
    assert.deepEqual(configuredFields({ port: 1, install: null }), ['port', 'install']);
    assert.deepEqual(configuredFields({}), []);
  });

  test('invalid JSON: the position, line and column', () => {
    assert.equal(
      problem('{\n  "port": 3000,\n}'),
      'workspace.json is not valid JSON: Expected double-quoted property name in JSON at position 18 (line 3 column 1)',
    );
    assert.equal(problem(''), 'workspace.json is not valid JSON: Unexpected end of JSON input');
  });

  test('not an object', () => {
    assert.equal(
      problem('[1]'),
      'workspace.json must be a JSON object like {"port": 3000}, got an array',
    );
    assert.match(problem('"node"'), /must be a JSON object .*, got "node"$/);
    assert.match(problem('null'), /got null$/);
  });

  test('type', () => {
    assert.equal(
      problem('{"type":"ruby"}'),
      'workspace.json: "type" must be one of "node", "python", "go", "static" (got "ruby")',
    );
  });

  test('port', () => {
    const range = 'must be a number from 1 to 65535';
    assert.equal(problem('{"port":"3000"}'), `workspace.json: "port" ${range} (got "3000")`);
    assert.equal(problem('{"port":0}'), `workspace.json: "port" ${range} (got 0)`);
    assert.equal(problem('{"port":65536}'), `workspace.json: "port" ${range} (got 65536)`);
    assert.equal(
      problem('{"port":80.5}'),
      'workspace.json: "port" must be a whole number from 1 to 65535 (got 80.5)',
    );
  });

  test('replicas', () => {
    assert.deepEqual(parseWorkspaceConfig('{"replicas":3}'), { ok: true, config: { replicas: 3 } });
    const range = 'must be a number from 1 to 32';
    assert.equal(problem('{"replicas":0}'), `workspace.json: "replicas" ${range} (got 0)`);
    assert.equal(problem('{"replicas":33}'), `workspace.json: "replicas" ${range} (got 33)`);
    assert.equal(problem('{"replicas":"2"}'), `workspace.json: "replicas" ${range} (got "2")`);
    assert.equal(
      problem('{"replicas":1.5}'),
      'workspace.json: "replicas" must be a whole number from 1 to 32 (got 1.5)',
    );
  });

  test('command', () => {
    assert.equal(
      problem('{"command":["npm","start"]}'),
      'workspace.json: "command" must be a string (a shell command) (got an array)',
    );
    assert.equal(
      problem('{"command":"  "}'),
      'workspace.json: "command" must not be empty (got "  ")',
    );
    assert.match(problem(`{"command":"${'x'.repeat(4097)}"}`), /"command" must be at most 4096/);
  });

  test('install', () => {
    assert.equal(
      problem('{"install":false}'),
      'workspace.json: "install" must be a shell command, or null for nothing to install (got false)',
    );
  });

  test('env: the object, each name and value, never showing values', () => {
    assert.equal(
      problem('{"env":["A=1"]}'),
      'workspace.json: "env" must be an object of NAME: "value" pairs',
    );
    assert.equal(
      problem('{"env":{"TOKEN":{"x":1}}}'),
      'workspace.json: "env.TOKEN" must be a string, number or boolean',
    );
    assert.equal(
      problem('{"env":{"1X":"secret"}}'),
      'workspace.json: "env.1X" is not a valid variable name (letters, digits and _, not starting with a digit)',
    );
    assert.equal(
      problem('{"env":{"PORT":"8080"}}'),
      'workspace.json: "env.PORT" is set by the monitor from "port"; set "port" instead',
    );
    assert.equal(
      problem('{"env":{"BUCKETSPACE_INSTALL":"x"}}'),
      'workspace.json: "env.BUCKETSPACE_INSTALL" is reserved for the runtime images (BUCKETSPACE_*)',
    );
  });

  test('unknown fields are named with the allowed ones', () => {
    assert.equal(
      problem('{"comand":"x"}'),
      'workspace.json: unknown field "comand" (allowed: type, port, command, install, env, replicas)',
    );
    assert.match(problem('{"a":1,"b":2}'), /unknown fields "a", "b" \(allowed/);
  });

  test('every problem is listed at once', () => {
    assert.equal(
      problem('{"type":"rust","port":-1,"extra":true}'),
      'workspace.json: "type" must be one of "node", "python", "go", "static" (got "rust"); ' +
        '"port" must be a number from 1 to 65535 (got -1); ' +
        'unknown field "extra" (allowed: type, port, command, install, env, replicas)',
    );
  });
});
