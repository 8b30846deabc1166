import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { docker } from './docker-cli.ts';

/** The bucketspace images, by their build target name (`bucketspace/<name>:latest`). */
export const IMAGE_NAMES = [
  'runtime-node',
  'runtime-python',
  'runtime-go',
  'runtime-static',
  'control-plane',
  'mount-rclone',
  'mount-s3fs',
  'apps-firewall',
] as const;

export type ImageName = (typeof IMAGE_NAMES)[number];

const SCRIPT = fileURLToPath(new URL('../../scripts/build-local-images.sh', import.meta.url));

/** `runtime-node` or `bucketspace/runtime-node[:latest]` -> `runtime-node`. */
export function imageTarget(name: string): ImageName {
  const short = name.replace(/^bucketspace\//, '').replace(/:latest$/, '');
  const found = IMAGE_NAMES.find((n) => n === short);
  if (!found) throw new Error(`unknown image ${name}; known: ${IMAGE_NAMES.join(', ')}`);
  return found;
}

export function imageRef(name: string): string {
  return `bucketspace/${imageTarget(name)}:latest`;
}

async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Make sure the named images exist, building the missing ones (and the local
 * bases they need) with scripts/build-local-images.sh: no registry needed.
 * A no-op when they all exist. Call it in `before` with a generous timeout.
 */
export async function ensureImages(names: string[]): Promise<void> {
  const targets = [...new Set(names.map(imageTarget))];
  const missing: string[] = [];
  for (const t of targets) if (!(await imageExists(imageRef(t)))) missing.push(t);
  await buildTargets(missing);
}

/**
 * Build targets of scripts/build-local-images.sh (e.g. `base-caddy`) that do
 * not exist yet; the script skips the ones that do.
 */
export async function buildTargets(targets: string[]): Promise<void> {
  if (targets.length === 0) return;
  let output = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(SCRIPT, targets, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    const tail = output.trimEnd().split('\n').slice(-15).join('\n');
    throw new Error(
      `scripts/build-local-images.sh ${targets.join(' ')} failed (exit ${code}):\n${tail}`,
    );
  }
}
