import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { ProgressLine } from './progress-line.ts';
import { Random, TextPool } from './random.ts';

/** What a benchmark tree is made of. Changing a spec rebuilds its cached tree. */
export interface TreeSpec {
  version: number;
  seed: number;
  workspaces: number;
  /** Files that are synced, in all workspaces together (including .gitignore, package.json, README.md). */
  sourceFiles: number;
  sourceMinBytes: number;
  sourceMaxBytes: number;
  /** Random directory paths (1-4 levels) per workspace that source files go into, with their ancestors. */
  directoryPaths: number;
  /** Files under node_modules/, in all workspaces together (excluded). */
  nodeModulesFiles: number;
  moduleMinBytes: number;
  moduleMaxBytes: number;
  /** One large file, in one workspace (0: none). */
  bigFileBytes: number;
}

/** The sync benchmark's tree. */
export const SYNC_TREE_SPEC: TreeSpec = {
  version: 3,
  seed: 20261121,
  workspaces: 20,
  /** Files that are synced, in all workspaces together (including .gitignore, package.json, README.md). */
  sourceFiles: 5_000,
  sourceMinBytes: 200,
  sourceMaxBytes: 20_000,
  directoryPaths: 24,
  /** Files under node_modules/, in all workspaces together (excluded). */
  nodeModulesFiles: 50_000,
  moduleMinBytes: 100,
  moduleMaxBytes: 8_000,
  /** One large file, in one workspace. */
  bigFileBytes: 200_000_000,
};

/**
 * The memory benchmark's tree: 100,000 files, half of them synced, half under
 * node_modules, made the same way (same generator, its own seed), no large file.
 */
export const SCALE_TREE_SPEC: TreeSpec = {
  version: 1,
  seed: 20261130,
  workspaces: 20,
  sourceFiles: 50_000,
  sourceMinBytes: 200,
  sourceMaxBytes: 20_000,
  directoryPaths: 240,
  nodeModulesFiles: 50_000,
  moduleMinBytes: 100,
  moduleMaxBytes: 8_000,
  bigFileBytes: 0,
};

type FileKind = 'source' | 'module' | 'secret' | 'log' | 'big';

interface PlannedFile {
  /** Relative to the workspaces directory: `<workspace>/<path>`, which is also the object key. */
  path: string;
  size: number;
  kind: FileKind;
}

export interface SyncTree {
  workspacesDir: string;
  /** Files (= object keys) that every tool should upload. */
  syncedFiles: number;
  syncedBytes: number;
  totalFiles: number;
  totalBytes: number;
  /** Key of the small source file the edit scenario rewrites. */
  editTarget: string;
  /** Key of the large file (undefined when the spec has none). */
  bigFile: string | undefined;
}

interface Marker {
  spec: TreeSpec;
  tree: Omit<SyncTree, 'workspacesDir'>;
}

const DIR_WORDS = [
  'src',
  'lib',
  'components',
  'utils',
  'models',
  'views',
  'api',
  'services',
  'styles',
  'test',
  'docs',
  'assets',
  'hooks',
  'config',
  'routes',
  'store',
  'forms',
  'layout',
];
const FILE_STEMS = [
  'index',
  'app',
  'main',
  'helpers',
  'types',
  'client',
  'server',
  'button',
  'list',
  'table',
  'user',
  'auth',
  'router',
  'schema',
  'format',
  'parser',
  'cache',
];
const EXTENSIONS = ['ts', 'tsx', 'js', 'json', 'md', 'css', 'py', 'sql', 'html'];
const PACKAGE_WORDS = [
  'react',
  'lodash',
  'core',
  'utils',
  'parser',
  'plugin',
  'loader',
  'types',
  'http',
  'stream',
  'fs',
  'glob',
  'color',
  'date',
  'yaml',
  'json',
  'test',
  'cli',
];
const BIG_FILE_WORKSPACE = 7;
/** Every workspace's .gitignore: rules that are also default excludes, so rclone's filters stay equivalent. */
const GITIGNORE = '# the usual suspects (also default excludes)\nnode_modules/\n.env*\n*.log\n';
const EDIT_WORKSPACE = 3;

function workspaceName(i: number): string {
  return `project-${String(i).padStart(2, '0')}`;
}

/** Every directory of `path` and its ancestors: `a/b/c` -> a, a/b, a/b/c. */
function withAncestors(path: string): string[] {
  const parts = path.split('/');
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * Source file paths of one workspace. Every directory directly holds at least
 * one file: s3rver 3.7.1 leaves directories that hold only subdirectories out
 * of delimiter listings, which would make rclone's default per-directory
 * listing miss (and re-upload) whole subtrees on every run.
 */
function sourcePaths(rng: Random, ws: string, count: number, directoryPaths: number): string[] {
  const dirs = new Set<string>();
  for (let i = 0; i < directoryPaths; i++) {
    const parts: string[] = [];
    for (let d = rng.int(1, 4); d > 0; d--) parts.push(rng.pick(DIR_WORDS));
    for (const dir of withAncestors(parts.join('/'))) dirs.add(dir);
  }
  const dirList = [...dirs].sort();
  const paths = new Set([`${ws}/.gitignore`, `${ws}/package.json`, `${ws}/README.md`]);
  const fileIn = (dir: string, n: number) =>
    `${ws}/${dir}/${rng.pick(FILE_STEMS)}-${n}.${rng.pick(EXTENSIONS)}`;
  dirList.forEach((dir, n) => paths.add(fileIn(dir, n)));
  for (let n = dirList.length; paths.size < count; n++) paths.add(fileIn(rng.pick(dirList), n));
  return [...paths];
}

function modulePaths(rng: Random, ws: string, count: number): string[] {
  const paths: string[] = [];
  for (let pkg = 0; paths.length < count; pkg++) {
    const name = `${rng.pick(PACKAGE_WORDS)}-${rng.pick(PACKAGE_WORDS)}-${pkg}`;
    const scoped = rng.next() < 0.2 ? `@${rng.pick(PACKAGE_WORDS)}/${name}` : name;
    const nested = rng.next() < 0.15 ? `/node_modules/${rng.pick(PACKAGE_WORDS)}-dep-${pkg}` : '';
    const base = `${ws}/node_modules/${scoped}${nested}`;
    paths.push(`${base}/package.json`, `${base}/index.js`);
    for (let f = rng.int(3, 30); f > 0 && paths.length < count; f--) {
      paths.push(
        `${base}/${rng.pick(['lib', 'dist', 'src', 'lib/internal'])}/${rng.pick(FILE_STEMS)}-${f}.js`,
      );
    }
  }
  return paths.slice(0, count);
}

/** The whole tree, file by file; deterministic for a given spec. */
function planSyncTree(spec: TreeSpec): PlannedFile[] {
  const rng = new Random(spec.seed);
  const files: PlannedFile[] = [];
  for (let i = 1; i <= spec.workspaces; i++) {
    const ws = workspaceName(i);
    const share = (total: number) =>
      Math.floor(total / spec.workspaces) + (i <= total % spec.workspaces ? 1 : 0);
    for (const path of sourcePaths(rng, ws, share(spec.sourceFiles), spec.directoryPaths)) {
      const size = rng.logUniform(spec.sourceMinBytes, spec.sourceMaxBytes);
      files.push({
        path,
        size: path.endsWith('/.gitignore') ? GITIGNORE.length : size,
        kind: 'source',
      });
    }
    for (const path of modulePaths(rng, ws, share(spec.nodeModulesFiles))) {
      files.push({
        path,
        size: rng.logUniform(spec.moduleMinBytes, spec.moduleMaxBytes),
        kind: 'module',
      });
    }
    for (const path of [`${ws}/.env`, `${ws}/.env.local`])
      files.push({ path, size: rng.int(80, 400), kind: 'secret' });
    for (const path of [`${ws}/npm-debug.log`, `${ws}/logs/server.log`, `${ws}/logs/access.log`]) {
      files.push({ path, size: rng.logUniform(500, 200_000), kind: 'log' });
    }
    if (i === BIG_FILE_WORKSPACE && spec.bigFileBytes > 0) {
      files.push({ path: `${ws}/data/dataset.bin`, size: spec.bigFileBytes, kind: 'big' });
    }
  }
  return files;
}

/** The s3rver workaround above must hold for every synced directory, or rclone's default mode is measured wrongly. */
function assertEveryDirectoryHoldsAFile(synced: readonly PlannedFile[]): void {
  const withFiles = new Set(synced.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))));
  for (const dir of withFiles) {
    for (const ancestor of withAncestors(dir)) {
      if (!withFiles.has(ancestor))
        throw new Error(`tree plan: directory ${ancestor} holds no synced file directly`);
    }
  }
}

function describe(files: readonly PlannedFile[]): Omit<SyncTree, 'workspacesDir'> {
  const synced = files.filter((f) => f.kind === 'source' || f.kind === 'big');
  assertEveryDirectoryHoldsAFile(synced);
  const editWs = `${workspaceName(EDIT_WORKSPACE)}/`;
  const edit = synced
    .filter(
      (f) =>
        f.kind === 'source' &&
        f.path.startsWith(editWs) &&
        f.path.split('/').length > 2 &&
        f.size >= 1_000 &&
        f.size <= 5_000,
    )
    .sort((a, b) => (a.path < b.path ? -1 : 1))[0];
  const big = files.find((f) => f.kind === 'big');
  if (!edit) throw new Error('tree plan has no edit target');
  return {
    syncedFiles: synced.length,
    syncedBytes: synced.reduce((n, f) => n + f.size, 0),
    totalFiles: files.length,
    totalBytes: files.reduce((n, f) => n + f.size, 0),
    editTarget: edit.path,
    bigFile: big?.path,
  };
}

function contentOf(file: PlannedFile, rng: Random, pool: TextPool): string {
  switch (file.kind) {
    case 'secret':
      return `API_KEY=${'k'.repeat(32)}\nDATABASE_URL=postgres://app:secret@db/app\n`
        .padEnd(file.size, '#')
        .slice(0, file.size);
    case 'log':
      return pool.take(rng, `[log] ${file.path}\n`, file.size);
    case 'source':
      return file.path.endsWith('/.gitignore')
        ? GITIGNORE
        : pool.take(rng, `// ${file.path}\n`, file.size);
    default:
      return pool.take(rng, `// ${file.path}\n`, file.size);
  }
}

/** Random-looking bytes (AES-256-CTR keystream, fixed key), written in 8 MiB chunks. */
async function writeBigFile(
  path: string,
  size: number,
  seed: number,
  out: NodeJS.WriteStream,
): Promise<void> {
  const key = createHash('sha256').update(`bucketspace bench ${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const chunk = Buffer.alloc(8 * 1024 * 1024);
  const progress = new ProgressLine({
    out,
    label: `writing ${path.split('/').slice(-1)[0]}`,
    total: Math.ceil(size / 1e6),
    unit: 'MB',
  });
  const handle = await open(path, 'w');
  try {
    for (let written = 0; written < size;) {
      const n = Math.min(chunk.length, size - written);
      await handle.write(cipher.update(chunk.subarray(0, n)));
      written += n;
      progress.tick(Math.round(written / 1e6) - Math.round((written - n) / 1e6));
    }
  } finally {
    await handle.close();
  }
  progress.finish();
}

async function build(
  root: string,
  spec: TreeSpec,
  files: readonly PlannedFile[],
  out: NodeJS.WriteStream,
): Promise<void> {
  const rng = new Random(spec.seed + 1);
  const pool = new TextPool(rng);
  const dirs = new Set(files.map((f) => dirname(join(root, f.path))));
  for (const dir of dirs) await mkdir(dir, { recursive: true });
  const small = files.filter((f) => f.kind !== 'big');
  const progress = new ProgressLine({
    out,
    label: 'building tree',
    total: small.length,
    unit: 'files',
  });
  const limit = pLimit(32);
  await Promise.all(
    small.map((file) =>
      limit(async () => {
        await writeFile(join(root, file.path), contentOf(file, rng, pool));
        progress.tick();
      }),
    ),
  );
  progress.finish();
  for (const file of files.filter((f) => f.kind === 'big'))
    await writeBigFile(join(root, file.path), file.size, spec.seed, out);
}

async function readMarker(path: string, spec: TreeSpec): Promise<Marker | undefined> {
  try {
    const marker = JSON.parse(await readFile(path, 'utf8')) as Marker;
    return JSON.stringify(marker.spec) === JSON.stringify(spec) ? marker : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A benchmark tree under `dir` (.bench/sync-tree, .bench/scale-tree), built
 * once: a marker file written after the last byte says it is complete, so a
 * rerun reuses it unless `rebuild` is set or the spec changed.
 */
export async function prepareSyncTree(options: {
  spec: TreeSpec;
  dir: string;
  rebuild: boolean;
  out: NodeJS.WriteStream;
}): Promise<{ tree: SyncTree; built: boolean; seconds: number }> {
  const started = performance.now();
  const markerPath = join(options.dir, 'tree.json');
  const workspacesDir = join(options.dir, 'workspaces');
  const { spec } = options;
  const existing = options.rebuild ? undefined : await readMarker(markerPath, spec);
  if (existing) return { tree: { ...existing.tree, workspacesDir }, built: false, seconds: 0 };
  await rm(options.dir, { recursive: true, force: true });
  const files = planSyncTree(spec);
  const marker: Marker = { spec, tree: describe(files) };
  await build(workspacesDir, spec, files, options.out);
  await writeFile(markerPath, `${JSON.stringify(marker, null, 2)}\n`);
  return {
    tree: { ...marker.tree, workspacesDir },
    built: true,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Rewrites a file with different content of exactly the same size (and a new
 * mtime, as an editor would); returns the new content's MD5 hex.
 */
export async function editSameSize(path: string, round: number): Promise<string> {
  const old = await readFile(path);
  const rng = new Random(Date.now() + round);
  let next: Buffer;
  do {
    const header = `// edit ${round} at ${new Date().toISOString()} ${rng.int(0, 1e9)}\n`;
    next = Buffer.from(new TextPool(rng, 32 * 1024).take(rng, header, old.length));
  } while (next.equals(old) || next.length !== old.length);
  await writeFile(path, next);
  return createHash('md5').update(next).digest('hex');
}
