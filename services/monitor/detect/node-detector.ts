import type { WorkspaceProbe } from '../types.ts';
import { isPlainObject, parseJsonFile } from './json-text.ts';
import { shellQuote } from '../../common/shell-quote.ts';
import type { Detector, DetectorResult } from './types.ts';

export const PACKAGE_JSON = 'package.json';

type PackageManager = 'npm' | 'yarn' | 'pnpm';

/** Lockfiles in the order they are preferred when there are several (and no `packageManager`). */
export const LOCKFILES: readonly { file: string; manager: PackageManager; install: string }[] = [
  { file: 'package-lock.json', manager: 'npm', install: 'npm ci' },
  { file: 'npm-shrinkwrap.json', manager: 'npm', install: 'npm ci' },
  // Through corepack, so the yarn/pnpm version pinned in `packageManager` is
  // used (Yarn 1 or pnpm's latest when none is pinned). Yarn 2+ reads
  // --frozen-lockfile as its --immutable.
  { file: 'yarn.lock', manager: 'yarn', install: 'corepack yarn install --frozen-lockfile' },
  { file: 'pnpm-lock.yaml', manager: 'pnpm', install: 'corepack pnpm install --frozen-lockfile' },
];

/** `npm install` without a lockfile, when package.json lists dependencies. */
export const NPM_INSTALL = 'npm install';

export const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
] as const;

/**
 * Node: a package.json. Start: `scripts.start`, else `main`, else index.js,
 * else server.js (npm's own default for `npm start`). Install: from the
 * lockfile (npm ci, yarn or pnpm, frozen), else `npm install` when
 * package.json lists dependencies, else nothing. With yarn the app is started
 * through yarn too, as Yarn 2+ (Plug'n'Play) leaves no node_modules for node.
 */
export const nodeDetector: Detector = {
  type: 'node',
  signs: [PACKAGE_JSON],
  defaultPort: 3000,
  detect(probe: WorkspaceProbe): DetectorResult {
    if (!probe.files.has(PACKAGE_JSON)) return { kind: 'none' };
    const text = probe.texts.get(PACKAGE_JSON);
    if (text === undefined) {
      return { kind: 'invalid', reason: `${PACKAGE_JSON} could not be read (see the scan errors)` };
    }
    const parsed = parseJsonFile(PACKAGE_JSON, text);
    if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason };
    if (!isPlainObject(parsed.value)) {
      return { kind: 'invalid', reason: `${PACKAGE_JSON} must be a JSON object` };
    }
    const pkg = parsed.value;
    const install = chooseInstall(probe, pkg);
    const start = chooseStart(probe, pkg, install.manager);
    return {
      kind: 'found',
      evidence: PACKAGE_JSON,
      start: start.command,
      startReason: start.reason,
      install: install.command,
      installReason: install.reason,
    };
  },
};

function chooseInstall(
  probe: WorkspaceProbe,
  pkg: Record<string, unknown>,
): { command: string | null; reason: string; manager: PackageManager } {
  const present = LOCKFILES.filter((lock) => probe.files.has(lock.file));
  const pinned = pinnedManager(pkg.packageManager);
  const chosen = present.find((lock) => lock.manager === pinned) ?? present[0];
  if (chosen !== undefined) {
    const others = present.filter((lock) => lock !== chosen).map((lock) => lock.file);
    const why =
      others.length === 0
        ? chosen.file
        : `${chosen.file}${pinned === chosen.manager ? ', packageManager' : ''}; ignoring ${others.join(', ')}`;
    return {
      command: chosen.install,
      reason: `${chosen.install} (${why})`,
      manager: chosen.manager,
    };
  }
  const withDependencies = DEPENDENCY_FIELDS.filter(
    (field) => isPlainObject(pkg[field]) && Object.keys(pkg[field]).length > 0,
  );
  if (withDependencies.length > 0) {
    return {
      command: NPM_INSTALL,
      reason: `${NPM_INSTALL} (no lockfile; ${PACKAGE_JSON} has ${withDependencies.join(', ')})`,
      manager: 'npm',
    };
  }
  return {
    command: null,
    reason: `nothing (no lockfile and no dependencies in ${PACKAGE_JSON})`,
    manager: 'npm',
  };
}

function pinnedManager(value: unknown): PackageManager | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.split('@')[0];
  return name === 'npm' || name === 'yarn' || name === 'pnpm' ? name : undefined;
}

function chooseStart(
  probe: WorkspaceProbe,
  pkg: Record<string, unknown>,
  manager: PackageManager,
): { command: string | null; reason: string } {
  const run = manager === 'yarn' ? 'corepack yarn start' : 'npm start';
  const node = (file: string) =>
    manager === 'yarn' ? `corepack yarn node ${shellQuote(file)}` : `node ${shellQuote(file)}`;
  const scripts = pkg.scripts;
  if (isPlainObject(scripts) && typeof scripts.start === 'string' && scripts.start.trim() !== '') {
    return { command: run, reason: `${run} (scripts.start)` };
  }
  if (typeof pkg.main === 'string' && pkg.main.trim() !== '') {
    const command = node(pkg.main.trim());
    return { command, reason: `${command} (main; no scripts.start)` };
  }
  for (const file of ['index.js', 'server.js']) {
    if (probe.files.has(file)) {
      const command = node(file);
      return { command, reason: `${command} (${file}; no scripts.start or main)` };
    }
  }
  return {
    command: null,
    reason: `${PACKAGE_JSON} has no scripts.start or main, and there is no index.js or server.js`,
  };
}
