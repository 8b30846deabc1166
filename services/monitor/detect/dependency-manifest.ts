import { createHash } from 'node:crypto';
import path from 'node:path';
import type { RunPlan, WorkspaceSnapshot } from '../types.ts';
import { GO_INSTALL, GO_MOD, GO_SUM } from './go-detector.ts';
import { isPlainObject, parseJsonFile } from './json-text.ts';
import { DEPENDENCY_FIELDS, LOCKFILES, NPM_INSTALL, PACKAGE_JSON } from './node-detector.ts';
import { PYTHON_REQUIREMENTS_INSTALL, PYTHON_VENV, REQUIREMENTS_TXT } from './python-detector.ts';

/** Where each runtime's install puts what it installs (the images' layout). */
export const DEPENDENCY_DIRS = {
  node: '/app/node_modules',
  python: PYTHON_VENV,
  /** GOPATH: the module cache (pkg/mod); the build cache goes there too when cached. */
  go: '/home/app/go',
} as const;

/** Files at a workspace's root whose content decides what an install produces. */
export const DEPENDENCY_FILES: readonly string[] = [
  ...LOCKFILES.map((lock) => lock.file),
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pnpmfile.cjs',
  REQUIREMENTS_TXT,
  GO_MOD,
  GO_SUM,
];

/**
 * Whether what a workspace's install produces can be kept for its next
 * container, and keyed on what:
 * - `none`: nothing to install;
 * - `cached`: the install writes only into `dir`, and `digest` covers every
 *   input it reads (the install command, the app's env, the dependency
 *   fields of package.json, lockfiles, requirements files, go.mod/go.sum,
 *   local tarballs); `inputs` names them for people;
 * - `uncached`: installed by every container, and `why`.
 */
export type DependencyPlan =
  | { kind: 'none' }
  | {
      kind: 'cached';
      dir: string;
      digest: string;
      inputs: string[];
      /** Environment that points the runtime's tools at `dir` (Go's build cache). */
      env: Record<string, string>;
    }
  | { kind: 'uncached'; why: string };

/** package.json fields that change what npm, yarn or pnpm install. */
const NODE_MANIFEST_FIELDS = [
  ...DEPENDENCY_FIELDS,
  'peerDependencies',
  'bundleDependencies',
  'bundledDependencies',
  'overrides',
  'resolutions',
  'pnpm',
  'workspaces',
  'packageManager',
] as const;

/** Root scripts the package manager runs during an install: they may write anywhere in /app. */
const INSTALL_SCRIPTS = [
  'preinstall',
  'install',
  'postinstall',
  'preprepare',
  'prepare',
  'postprepare',
];

const NODE_CONFIG_FILES = ['.npmrc', '.yarnrc', '.yarnrc.yml', '.pnpmfile.cjs'];

/** A dependency spec that points into the workspace. */
const LOCAL_SPEC = /^(?:file:|link:|portal:|\.{0,2}\/|~\/)/;

/**
 * The dependency plan of a workspace: pure, from its scan and its run plan.
 * Only the detected install commands are cached: a custom one (workspace.json
 * `install`) may build from the source, and `pip install .` puts the
 * project's own code in the venv.
 */
export function dependencyPlan(snapshot: WorkspaceSnapshot, plan: RunPlan): DependencyPlan {
  if (plan.install === null) return { kind: 'none' };
  switch (plan.type) {
    case 'node':
      return nodePlan(snapshot, plan, plan.install);
    case 'python':
      return pythonPlan(snapshot, plan, plan.install);
    case 'go':
      return plan.install === GO_INSTALL
        ? cached(snapshot, plan, {
            dir: DEPENDENCY_DIRS.go,
            hashed: [GO_MOD, GO_SUM],
            // Compiled packages too, so a code edit rebuilds only the app.
            env: { GOCACHE: `${DEPENDENCY_DIRS.go}/build-cache` },
          })
        : custom(plan.install);
    case 'static':
      return { kind: 'none' };
  }
}

function nodePlan(snapshot: WorkspaceSnapshot, plan: RunPlan, install: string): DependencyPlan {
  const lock = LOCKFILES.find((l) => l.install === install);
  if (lock === undefined && install !== NPM_INSTALL) return custom(install);
  const parsed = parseJsonFile(PACKAGE_JSON, snapshot.probe.texts.get(PACKAGE_JSON) ?? '');
  if (!parsed.ok || !isPlainObject(parsed.value)) {
    return { kind: 'uncached', why: `${PACKAGE_JSON} could not be read` };
  }
  const pkg = parsed.value;
  const scripts = isPlainObject(pkg.scripts) ? pkg.scripts : {};
  const hooks = INSTALL_SCRIPTS.filter((name) => typeof scripts[name] === 'string');
  if (hooks.length > 0) {
    return {
      kind: 'uncached',
      why: `${PACKAGE_JSON} has ${hooks.map((h) => `scripts.${h}`).join(', ')}, which the install runs and which may write outside node_modules`,
    };
  }
  const berry = snapshot.probe.files.has('.yarnrc.yml') || !isYarnClassic(pkg.packageManager);
  if (lock?.manager === 'yarn' && berry) {
    return {
      kind: 'uncached',
      why: 'Yarn 2+ keeps dependencies outside node_modules (Plug\u2019n\u2019Play)',
    };
  }
  const tarballs: string[] = [];
  for (const field of DEPENDENCY_FIELDS) {
    const deps = pkg[field];
    if (!isPlainObject(deps)) continue;
    for (const [name, spec] of Object.entries(deps)) {
      if (typeof spec !== 'string' || !LOCAL_SPEC.test(spec)) continue;
      const target = spec.replace(/^(?:file|link|portal):/, '');
      const local = localFile(snapshot, target);
      if (local === undefined) {
        const why = isScannedDirectory(snapshot, target)
          ? 'is a directory linked into /app, not installed into node_modules'
          : 'is not among the scanned files (outside the workspace, missing, or excluded)';
        return { kind: 'uncached', why: `the local dependency ${name} (${spec}) ${why}` };
      }
      tarballs.push(local);
    }
  }
  const fields = Object.fromEntries(NODE_MANIFEST_FIELDS.map((f) => [f, pkg[f] ?? null]));
  const lockfiles = lock === undefined ? [] : [lock.file];
  return cached(snapshot, plan, {
    dir: DEPENDENCY_DIRS.node,
    hashed: [...lockfiles, ...NODE_CONFIG_FILES],
    statted: tarballs,
    extra: { [`${PACKAGE_JSON} dependencies`]: JSON.stringify(fields) },
  });
}

function pythonPlan(snapshot: WorkspaceSnapshot, plan: RunPlan, install: string): DependencyPlan {
  if (install !== PYTHON_REQUIREMENTS_INSTALL) {
    if (install.includes('pip install .')) {
      return {
        kind: 'uncached',
        why: "pip install . puts the project's own code into the venv",
      };
    }
    return custom(install);
  }
  const text = snapshot.probe.texts.get(REQUIREMENTS_TXT) ?? '';
  const local: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const entry = line.replace(/(^|\s)#.*$/, '').trim();
    if (entry === '') continue;
    const include = /^(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)$/.exec(entry);
    if (include?.[1] !== undefined) {
      const file = localFile(snapshot, include[1]);
      if (file === undefined) {
        return {
          kind: 'uncached',
          why: `${REQUIREMENTS_TXT} includes ${include[1]}, which is not a file here`,
        };
      }
      local.push(file);
      continue;
    }
    if (/^(?:-e|--editable)\b/.test(entry)) {
      return { kind: 'uncached', why: `${REQUIREMENTS_TXT} installs ${entry} in editable mode` };
    }
    const target = /^(?:\S+\s*@\s*)?(file:\S+|\.{1,2}\/\S*|\/\S*)$/.exec(entry)?.[1];
    if (target !== undefined) {
      const file = localFile(snapshot, target.replace(/^file:(\/\/)?/, ''));
      if (file === undefined) {
        return {
          kind: 'uncached',
          why: `${REQUIREMENTS_TXT} installs the local directory ${target}`,
        };
      }
      local.push(file);
    }
  }
  return cached(snapshot, plan, {
    dir: DEPENDENCY_DIRS.python,
    hashed: [REQUIREMENTS_TXT],
    statted: local,
  });
}

function custom(install: string): DependencyPlan {
  return {
    kind: 'uncached',
    why: `the install command "${install}" is not a detected one, and may build from the source`,
  };
}

/** A local spec as a path relative to the workspace root; undefined when it points outside. */
function relativeTo(spec: string): string | undefined {
  const rel = path.posix.normalize(spec.replace(/^~\//, '/')).replace(/\/$/, '');
  return rel.startsWith('/') || rel === '..' || rel.startsWith('../') ? undefined : rel;
}

/** The workspace file a local spec names (relative to the root), when it is a file that was scanned. */
function localFile(snapshot: WorkspaceSnapshot, spec: string): string | undefined {
  const rel = relativeTo(spec);
  return rel !== undefined && snapshot.files.some((f) => f.relPath === rel) ? rel : undefined;
}

function isScannedDirectory(snapshot: WorkspaceSnapshot, spec: string): boolean {
  const rel = relativeTo(spec);
  return rel !== undefined && snapshot.files.some((f) => f.relPath.startsWith(`${rel}/`));
}

interface CacheInputs {
  dir: string;
  /** Root files keyed by their content (the scan's hashes); missing ones are left out. */
  hashed: readonly string[];
  /** Files keyed by size and mtime (local tarballs, included requirement files). */
  statted?: readonly string[];
  /** Other inputs by label (package.json's dependency fields). */
  extra?: Record<string, string>;
  env?: Record<string, string>;
}

function cached(snapshot: WorkspaceSnapshot, plan: RunPlan, what: CacheInputs): DependencyPlan {
  const hash = createHash('sha256');
  const inputs: string[] = [];
  const add = (label: string, value: string) => {
    hash.update(`${label}\0${value}\n`);
  };
  add('type', plan.type);
  add('install', plan.install ?? '');
  add('env', JSON.stringify(Object.entries(plan.env).sort(([a], [b]) => a.localeCompare(b))));
  for (const [label, value] of Object.entries(what.extra ?? {})) {
    add(label, value);
    inputs.push(label);
  }
  for (const file of what.hashed) {
    const digest = snapshot.hashes.get(file);
    if (digest === undefined) continue;
    add(file, digest);
    inputs.push(file);
  }
  for (const rel of what.statted ?? []) {
    const file = snapshot.files.find((f) => f.relPath === rel);
    add(rel, `${String(file?.size)}:${String(file?.mtimeMs)}`);
    inputs.push(rel);
  }
  const env = what.env ?? {};
  add('cache env', JSON.stringify(env));
  return {
    kind: 'cached',
    dir: what.dir,
    digest: hash.digest('hex').slice(0, 32),
    inputs,
    env,
  };
}

function isYarnClassic(packageManager: unknown): boolean {
  if (typeof packageManager !== 'string') return true;
  return /^yarn@1\./.test(packageManager) || !packageManager.startsWith('yarn@');
}
