import type { WorkspaceProbe } from '../types.ts';
import { readPyproject, type PyprojectInfo } from './pyproject.ts';
import { shellQuote } from '../../common/shell-quote.ts';
import type { Detector, DetectorResult } from './types.ts';

export const REQUIREMENTS_TXT = 'requirements.txt';
export const PYPROJECT_TOML = 'pyproject.toml';

/**
 * The virtual environment dependencies go into. The python runtime image
 * puts `/app/.venv/bin` first on PATH, so `python` and the project's console
 * scripts come from it once it exists (and from the system Python before).
 */
export const PYTHON_VENV = '/app/.venv';
const VENV = `python -m venv ${PYTHON_VENV}`;
const PIP = `${PYTHON_VENV}/bin/pip install`;

/** The install of a project with a requirements.txt that is not itself installed. */
export const PYTHON_REQUIREMENTS_INSTALL = `${VENV} && ${PIP} -r ${REQUIREMENTS_TXT}`;

/**
 * Python: requirements.txt, pyproject.toml, app.py, main.py or manage.py.
 * Start: `python app.py`, else `python main.py` (the app reads PORT itself),
 * else Django's `python manage.py runserver 0.0.0.0:$PORT`, else the one
 * console script of [project.scripts] (or the one named like the project).
 * Install, always explicit, into the venv: `pip install -r requirements.txt`
 * when there is one; `pip install .` for a pyproject.toml with a [project]
 * table when there is no requirements.txt or the start command is one of its
 * scripts (a pyproject.toml holding only [tool.*] settings installs nothing).
 */
export const pythonDetector: Detector = {
  type: 'python',
  signs: [REQUIREMENTS_TXT, PYPROJECT_TOML, 'app.py', 'main.py', 'manage.py'],
  defaultPort: 8000,
  detect(probe: WorkspaceProbe): DetectorResult {
    const present = this.signs.filter((file) => probe.files.has(file));
    if (present.length === 0) return { kind: 'none' };
    let pyproject: PyprojectInfo | undefined;
    if (probe.files.has(PYPROJECT_TOML)) {
      const text = probe.texts.get(PYPROJECT_TOML);
      if (text === undefined) {
        return {
          kind: 'invalid',
          reason: `${PYPROJECT_TOML} could not be read (see the scan errors)`,
        };
      }
      pyproject = readPyproject(text);
    }
    const start = chooseStart(probe, pyproject);
    const install = chooseInstall(probe, pyproject, start.viaScript);
    return {
      kind: 'found',
      evidence: present.join(', '),
      start: start.command,
      startReason: start.reason,
      install: install.command,
      installReason: install.reason,
    };
  },
};

function chooseStart(
  probe: WorkspaceProbe,
  pyproject: PyprojectInfo | undefined,
): { command: string | null; reason: string; viaScript: boolean } {
  for (const file of ['app.py', 'main.py']) {
    if (probe.files.has(file)) {
      const command = `python ${file}`;
      return { command, reason: `${command} (${file}; the app reads PORT)`, viaScript: false };
    }
  }
  if (probe.files.has('manage.py')) {
    const command = 'python manage.py runserver 0.0.0.0:$PORT';
    return { command, reason: `${command} (manage.py: Django)`, viaScript: false };
  }
  const scripts = pyproject?.scripts ?? [];
  const script = scripts.length === 1 ? scripts[0] : scripts.find((s) => s === pyproject?.name);
  if (script !== undefined) {
    const command = shellQuote(script);
    const which = scripts.length === 1 ? 'its only' : 'the one named like the project of its';
    return {
      command,
      reason: `${command} (${which} [project.scripts] in ${PYPROJECT_TOML}; the app reads PORT)`,
      viaScript: true,
    };
  }
  const why =
    scripts.length > 1
      ? `${PYPROJECT_TOML} has several [project.scripts] (${scripts.join(', ')}) and none is named like the project`
      : `no app.py, main.py or manage.py, and no [project.scripts] in a ${PYPROJECT_TOML}`;
  return { command: null, reason: why, viaScript: false };
}

function chooseInstall(
  probe: WorkspaceProbe,
  pyproject: PyprojectInfo | undefined,
  startsViaScript: boolean,
): { command: string | null; reason: string } {
  const hasRequirements = probe.files.has(REQUIREMENTS_TXT);
  const installProject = pyproject?.hasProject === true && (!hasRequirements || startsViaScript);
  const steps: string[] = [];
  const why: string[] = [];
  if (hasRequirements) {
    steps.push(`${PIP} -r ${REQUIREMENTS_TXT}`);
    why.push(REQUIREMENTS_TXT);
  }
  if (installProject) {
    steps.push(`${PIP} .`);
    why.push(`[project] in ${PYPROJECT_TOML}`);
  }
  if (steps.length === 0) {
    const reason =
      pyproject === undefined
        ? `nothing (no ${REQUIREMENTS_TXT} or ${PYPROJECT_TOML})`
        : `nothing (no ${REQUIREMENTS_TXT}, and ${PYPROJECT_TOML} has no [project] table)`;
    return { command: null, reason };
  }
  const command = [VENV, ...steps].join(' && ');
  return { command, reason: `pip into ${PYTHON_VENV} (${why.join(', ')})` };
}
