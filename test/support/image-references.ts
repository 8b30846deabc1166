// What "pinned" means for an image reference in this repository's Compose
// files and Dockerfiles, and which repositories are gone. A floating tag
// (`latest`, none at all, a bare major version like `caddy:2`) changes under
// users without notice and breaks when its repository is withdrawn, as
// minio/minio was on 2026-09-12.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';

/** Repositories that no longer serve images (withdrawn or deleted). */
export const WITHDRAWN_REPOSITORIES = [
  'minio/minio',
  'minio/mc',
  'bitnami/minio',
  'quay.io/minio/minio',
  'quay.io/minio/mc',
];

/** Images this repository builds itself (never pulled): exempt. */
const OWN = /^bucketspace(-local)?\//;

/** `docker.io/library/node:24` -> repository `node`, tag `24`. */
export function splitReference(ref: string): { repository: string; tag?: string; digest?: string } {
  const [nameAndTag = '', digest] = ref.split('@');
  const slash = nameAndTag.lastIndexOf('/');
  const colon = nameAndTag.lastIndexOf(':');
  const hasTag = colon > slash;
  let repository = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
  repository = repository.replace(/^docker\.io\//, '').replace(/^library\//, '');
  return { repository, tag: hasTag ? nameAndTag.slice(colon + 1) : undefined, digest };
}

/**
 * Why this reference is not acceptable as a default, or undefined when it is:
 * a digest, or a tag naming a full release (1.2.3, a date, RELEASE.<date>).
 */
export function imageReferenceProblem(ref: string): string | undefined {
  if (OWN.test(ref)) return undefined;
  const { repository, tag, digest } = splitReference(ref);
  if (WITHDRAWN_REPOSITORIES.includes(repository)) {
    return `${ref}: ${repository} was withdrawn from its registry`;
  }
  if (digest !== undefined && /^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
  if (tag === undefined) return `${ref}: no tag (means latest)`;
  if (tag === 'latest') return `${ref}: latest is not pinned`;
  const release = /(^|[^0-9])\d+\.\d+\.\d+([^0-9]|$)|\d{8}|RELEASE\.\d{4}-\d{2}-\d{2}/;
  if (!release.test(tag))
    return `${ref}: tag ${tag} does not name a release (e.g. 1.2.3 or a date)`;
  return undefined;
}

export interface ImageReference {
  /** Where it was found, e.g. `docker-compose.yml: services.minio.image`. */
  where: string;
  ref: string;
}

/** `${VAR:-default}` -> default (what users get when they set nothing). */
function defaultOf(value: string): string {
  return value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
}

/** Every image reference of a Compose file: service images and *IMAGE build arguments. */
export function composeImageReferences(file: string, text: string): ImageReference[] {
  const doc = parse(text) as {
    services?: Record<string, { image?: string; build?: { args?: Record<string, string> } }>;
  };
  const out: ImageReference[] = [];
  for (const [name, service] of Object.entries(doc.services ?? {})) {
    if (typeof service?.image === 'string') {
      out.push({ where: `${file}: services.${name}.image`, ref: defaultOf(service.image) });
    }
    for (const [arg, value] of Object.entries(service?.build?.args ?? {})) {
      if (/IMAGE$/.test(arg) && typeof value === 'string') {
        out.push({ where: `${file}: services.${name}.build.args.${arg}`, ref: defaultOf(value) });
      }
    }
  }
  return out;
}

/** Every image reference of a Dockerfile: `ARG *IMAGE=default` and literal `FROM image`. */
export function dockerfileImageReferences(file: string, text: string): ImageReference[] {
  const out: ImageReference[] = [];
  const stages = new Set<string>();
  for (const line of text.split('\n')) {
    const arg = /^\s*ARG\s+([A-Z0-9_]*IMAGE)=(\S+)/i.exec(line);
    if (arg) out.push({ where: `${file}: ARG ${arg[1]}`, ref: arg[2]! });
    const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      const image = from[1]!;
      if (!image.includes('$') && !stages.has(image) && image !== 'scratch') {
        out.push({ where: `${file}: FROM`, ref: image });
      }
      if (from[2]) stages.add(from[2]);
    }
  }
  return out;
}

/** Not the repository's own files: dependencies, build output, the user's workspaces. */
const SKIP = new Set(['node_modules', 'dist', 'workspaces']);

/** The Compose files (the Swarm stack's too) and Dockerfiles of the repository. */
export async function imageReferencesOf(root: string): Promise<ImageReference[]> {
  const out: ImageReference[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (entry.isDirectory()) await walk(path);
      else if (/^(docker-compose.*|swarm-.*)\.ya?ml$/.test(entry.name)) {
        out.push(...composeImageReferences(rel, await readFile(path, 'utf8')));
      } else if (entry.name === 'Dockerfile' || entry.name.endsWith('.Dockerfile')) {
        out.push(...dockerfileImageReferences(rel, await readFile(path, 'utf8')));
      }
    }
  };
  await walk(root);
  return out;
}
