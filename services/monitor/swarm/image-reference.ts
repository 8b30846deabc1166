/** `registry:5000/team/app:1.2` or `app@sha256:...` -> the repository, without tag or digest. */
export function repositoryOf(image: string): string {
  const at = image.indexOf('@');
  const name = at >= 0 ? image.slice(0, at) : image;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

/** What the manager's engine knows of an image: its ID and its registry digests. */
export interface KnownImage {
  id: string;
  repoDigests: readonly string[];
}

/**
 * The image reference every task of a deploy runs, so that all nodes run the
 * same image and none pulls what it already has (Docker skips the pull for
 * an image ID, and for a digest it holds). Pure. In order: a reference that
 * already names a digest, as it is; when the manager's engine has the image:
 * the registry digest its copy came with (`repo@sha256:...`: nodes without
 * it pull exactly that), else its image ID (built or loaded without a
 * registry: every node needs the same image loaded, and a node without it
 * refuses the task with "No such image"); when it does not: the digest the
 * registry reports; else the name as given (each node pulls it).
 */
export function pinnedImage(
  image: string,
  local: KnownImage | undefined,
  registryDigest: string | undefined,
): string {
  if (image.includes('@')) return image;
  const repository = repositoryOf(image);
  if (local !== undefined) {
    return local.repoDigests.find((d) => repositoryOf(d) === repository) ?? local.id;
  }
  return registryDigest === undefined ? image : `${repository}@${registryDigest}`;
}
