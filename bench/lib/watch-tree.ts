import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Random, TextPool } from './random.ts';

/** A small tree for the watch benchmark: a few workspaces, some sources, some excluded files. */
export interface WatchTree {
  workspacesDir: string;
  workspaces: string[];
  /** Keys (`<workspace>/<path>`) of source files that saves may rewrite. */
  sources: string[];
  /** Directories (as key prefixes) that exist and hold synced files, for new files. */
  directories: string[];
}

const WORKSPACES = ['web', 'api', 'docs'];
const DIRS = ['src', 'src/lib', 'src/components', 'test', 'notes'];
const FILES_PER_WORKSPACE = 40;
const MODULE_FILES_PER_WORKSPACE = 200;

export async function buildWatchTree(workspacesDir: string, rng: Random): Promise<WatchTree> {
  const pool = new TextPool(rng, 64 * 1024);
  const sources: string[] = [];
  const files: { key: string; content: string }[] = [];
  for (const ws of WORKSPACES) {
    for (let i = 0; i < FILES_PER_WORKSPACE; i++) {
      const key = `${ws}/${DIRS[i % DIRS.length] ?? 'src'}/file-${i}.ts`;
      sources.push(key);
      files.push({ key, content: pool.take(rng, `// ${key}\n`, rng.logUniform(200, 4_000)) });
    }
    for (let i = 0; i < MODULE_FILES_PER_WORKSPACE; i++) {
      const key = `${ws}/node_modules/pkg-${i % 20}/lib/m-${i}.js`;
      files.push({ key, content: pool.take(rng, `// ${key}\n`, rng.logUniform(100, 2_000)) });
    }
    files.push({ key: `${ws}/.env`, content: 'SECRET=not-for-the-bucket\n' });
    files.push({ key: `${ws}/debug.log`, content: 'log line\n'.repeat(50) });
    files.push({ key: `${ws}/.gitignore`, content: 'node_modules/\n.env*\n*.log\n' });
  }
  for (const f of files) {
    const path = join(workspacesDir, f.key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
  }
  return {
    workspacesDir,
    workspaces: [...WORKSPACES],
    sources,
    directories: WORKSPACES.flatMap((ws) => DIRS.map((d) => `${ws}/${d}`)),
  };
}

/** Excluded by bucketspace's default rules, for the only kinds of files this tree has. */
function isExcluded(name: string, isDirectory: boolean): boolean {
  if (isDirectory) return name === 'node_modules';
  return name.startsWith('.env') || name.endsWith('.log');
}

/** What should be in the bucket: key -> MD5 of every synced local file. */
export async function expectedObjects(workspacesDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (isExcluded(entry.name, entry.isDirectory())) continue;
      const key = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) await visit(join(dir, entry.name), key);
      else if (entry.isFile() && prefix !== '') {
        out.set(
          key,
          createHash('md5')
            .update(await readFile(join(dir, entry.name)))
            .digest('hex'),
        );
      }
    }
  };
  await visit(workspacesDir, '');
  return out;
}
