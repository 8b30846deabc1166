import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A temporary WORKSPACES_DIR + state dir for one test. */
export interface TempTree {
  root: string;
  workspacesDir: string;
  stateDir: string;
  /** Write files: { 'app/src/a.js': 'content' } relative to workspacesDir. */
  write(files: Record<string, string | Buffer>): Promise<void>;
  remove(): Promise<void>;
}

export async function makeTree(files: Record<string, string | Buffer> = {}): Promise<TempTree> {
  const root = await mkdtemp(join(tmpdir(), 'bucketspace-test-'));
  const workspacesDir = join(root, 'workspaces');
  const stateDir = join(root, 'state');
  await mkdir(workspacesDir, { recursive: true });
  const tree: TempTree = {
    root,
    workspacesDir,
    stateDir,
    async write(more) {
      for (const [rel, content] of Object.entries(more)) {
        const abs = join(workspacesDir, rel);
        await mkdir(dirname(abs), { recursive: true });
        await writeFile(abs, content);
      }
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
  await tree.write(files);
  return tree;
}
