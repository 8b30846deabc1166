import type { Detection, RunPlan, RuntimeType, WorkspaceProbe } from '../types.ts';
import { GO_COMMAND_MAIN, goDetector } from './go-detector.ts';
import { nodeDetector, PACKAGE_JSON } from './node-detector.ts';
import { PYPROJECT_TOML, pythonDetector, REQUIREMENTS_TXT } from './python-detector.ts';
import { PUBLIC_INDEX_HTML, staticDetector } from './static-detector.ts';
import type { Detector, DetectorResult } from './types.ts';
import {
  configuredFields,
  parseWorkspaceConfig,
  WORKSPACE_JSON,
  type WorkspaceConfig,
} from './workspace-config.ts';
import { validateWorkspaceName } from '../../common/workspace-name.ts';

/** In the order they are asked: the first that knows how to start the app wins. */
export const DETECTORS: readonly Detector[] = [
  nodeDetector,
  pythonDetector,
  goDetector,
  staticDetector,
];

/**
 * Root-relative paths whose text detection reads, when they exist and are not
 * ignored: the scanner puts them in `WorkspaceProbe.texts`. Every other file
 * only needs to be in `WorkspaceProbe.files`.
 */
export const DETECTION_FILES: readonly string[] = [
  WORKSPACE_JSON,
  PACKAGE_JSON,
  PYPROJECT_TOML,
  // Not for the type: the dependency plan follows its -r/-c includes.
  REQUIREMENTS_TXT,
];

/**
 * Whether detection needs to know that this file exists, i.e. whether the
 * scanner puts it in `WorkspaceProbe.files`: every file at the root, plus
 * public/index.html and cmd/<name>/main.go.
 */
export function isDetectionPath(relPath: string): boolean {
  return !relPath.includes('/') || relPath === PUBLIC_INDEX_HTML || GO_COMMAND_MAIN.test(relPath);
}

/**
 * How to run a workspace, and why. Pure. In order:
 *  1. a name that cannot be served (validateWorkspaceName) is invalid;
 *  2. a bad workspace.json is invalid;
 *  3. workspace.json `type` picks the detector, else the detectors are asked
 *     in order (node, python, go, static) and the first that can start the
 *     app wins (with a workspace.json `command`, the first that recognises
 *     the files at all);
 *  4. workspace.json fields replace what was detected, one by one; the reason
 *     says which came from where.
 */
export function detectWorkspace(probe: WorkspaceProbe): Detection {
  const nameProblem = validateWorkspaceName(probe.name);
  if (nameProblem !== undefined) {
    return { kind: 'invalid', reason: `invalid workspace name: ${nameProblem}` };
  }
  let config: WorkspaceConfig = {};
  if (probe.files.has(WORKSPACE_JSON)) {
    const text = probe.texts.get(WORKSPACE_JSON);
    if (text === undefined) {
      return {
        kind: 'invalid',
        reason: `${WORKSPACE_JSON} could not be read (see the scan errors)`,
      };
    }
    const parsed = parseWorkspaceConfig(text);
    if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason };
    config = parsed.config;
  }
  const chosen = chooseDetector(probe, config);
  if (chosen.kind !== 'chosen') return chosen;
  return combine(config, chosen.detector, chosen.result);
}

type Chosen =
  | { kind: 'chosen'; detector: Detector; result: DetectorResult }
  | Exclude<Detection, { kind: 'runnable' }>;

function chooseDetector(probe: WorkspaceProbe, config: WorkspaceConfig): Chosen {
  if (config.type !== undefined) {
    const detector = detectorFor(config.type);
    const result = detector.detect(probe);
    if (result.kind === 'invalid') return result;
    return { kind: 'chosen', detector, result };
  }
  const found: { detector: Detector; result: DetectorResult & { kind: 'found' } }[] = [];
  for (const detector of DETECTORS) {
    const result = detector.detect(probe);
    if (result.kind === 'invalid') return result;
    if (result.kind !== 'found') continue;
    if (result.start !== null) return { kind: 'chosen', detector, result };
    found.push({ detector, result });
  }
  const first = found[0];
  if (first !== undefined && config.command !== undefined) {
    return { kind: 'chosen', detector: first.detector, result: first.result };
  }
  const lookedFor = `looked for ${listOr([WORKSPACE_JSON, ...DETECTORS.flatMap((d) => d.signs)])}`;
  if (found.length > 0) {
    const notes = found.map(({ detector, result }) => `${detector.type}: ${result.startReason}`);
    return {
      kind: 'unrecognized',
      reason: `no start command: ${notes.join('; ')}; set "command" in ${WORKSPACE_JSON}`,
    };
  }
  if (config.command !== undefined) {
    return {
      kind: 'invalid',
      reason: `${WORKSPACE_JSON} sets "command" but not "type", and no file says which runtime (${lookedFor}); add "type"`,
    };
  }
  return { kind: 'unrecognized', reason: `nothing says how to run it: ${lookedFor}` };
}

function combine(config: WorkspaceConfig, detector: Detector, result: DetectorResult): Detection {
  const type = detector.type;
  const detected = result.kind === 'found' ? result : undefined;
  if (type === 'static' && (config.command !== undefined || config.install !== undefined)) {
    const fields = configuredFields(config).filter((f) => f === 'command' || f === 'install');
    return {
      kind: 'invalid',
      reason: `${WORKSPACE_JSON}: ${fields.map((f) => `"${f}"`).join(' and ')} cannot be used with type static (nginx serves the files; there is nothing to run or install)`,
    };
  }
  const start = config.command ?? detected?.start ?? null;
  if (start === null) {
    const why = detected?.startReason ?? `no ${listOr(detector.signs)}`;
    return {
      kind: 'invalid',
      reason: `${WORKSPACE_JSON} sets type ${type}, but there is no start command (${why}); add "command"`,
    };
  }
  const install = config.install !== undefined ? config.install : (detected?.install ?? null);
  const port = config.port ?? detector.defaultPort;
  const set = configuredFields(config);
  const none = `nothing (no ${listOr(detector.signs)})`;
  const parts = [
    `${type} (${config.type !== undefined ? WORKSPACE_JSON : (detected?.evidence ?? '')})`,
    `start: ${config.command !== undefined ? `command from ${WORKSPACE_JSON}` : (detected?.startReason ?? '')}`,
    `install: ${config.install !== undefined ? `${config.install ?? 'nothing'} (${WORKSPACE_JSON})` : (detected?.installReason ?? none)}`,
    `port ${port} (${config.port !== undefined ? WORKSPACE_JSON : `${type} default`})`,
  ];
  if (config.env !== undefined) {
    const names = Object.keys(config.env);
    parts.push(`env ${names.length === 0 ? 'none' : names.join(', ')} (${WORKSPACE_JSON})`);
  }
  if (config.replicas !== undefined) parts.push(`replicas ${config.replicas} (${WORKSPACE_JSON})`);
  const allSet = ['type', 'command', 'install', 'port'].every((f) => set.includes(f));
  const prefix =
    set.length === 0
      ? ''
      : `${WORKSPACE_JSON} sets ${set.join(', ')}${allSet ? '' : '; the rest is detected'}: `;
  const plan: RunPlan = {
    type,
    install,
    start,
    port,
    env: config.env ?? {},
    reason: prefix + parts.join('; '),
    source: set.length === 0 ? 'detected' : 'workspace.json',
  };
  if (config.replicas !== undefined) plan.replicas = config.replicas;
  return { kind: 'runnable', plan };
}

function detectorFor(type: RuntimeType): Detector {
  const detector = DETECTORS.find((d) => d.type === type);
  if (detector === undefined) throw new Error(`no detector for type ${type}`);
  return detector;
}

function listOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}
