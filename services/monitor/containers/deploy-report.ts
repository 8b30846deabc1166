/**
 * What the runtime entrypoint reports about a start (images/README.md, "The
 * report"): a directory in the container with one file per part, read back
 * by the monitor through ContainerRuntime.readDirectory. The monitor names it
 * (BUCKETSPACE_REPORT_DIR): on the writable layer, not in the /tmp tmpfs,
 * which the engine's archive endpoint does not see.
 */
export const REPORT_DIR = '/var/tmp/bucketspace-deploy';

/** The largest report the monitor reads (a manifest line is ~60 bytes: about 500,000 files). */
export const REPORT_MAX_BYTES = 32 * 1024 * 1024;

/** One copied file as the manifest lists it. */
export interface CopiedFile {
  size: number;
  mtimeMs: number;
}

export interface DeployReport {
  /** `copied`: every regular file copied into /app (symlinks followed), by relative path. */
  copied: Map<string, CopiedFile> | undefined;
  /** `dependencies`: what the install step did. */
  dependencies: 'installed' | 'reused' | 'none' | undefined;
}

/**
 * Parse the report's files. `copied` holds NUL-terminated records
 * `<size> <mtime in seconds, fractional> <path>` (GNU find's
 * `-printf '%s %T@ %P\0'`); `dependencies` one word. A record that does not
 * parse is left out, so the file it names counts as missing from the copy.
 */
export function parseDeployReport(files: ReadonlyMap<string, Buffer>): DeployReport {
  const copiedText = files.get('copied')?.toString('utf8');
  let copied: Map<string, CopiedFile> | undefined;
  if (copiedText !== undefined) {
    copied = new Map();
    for (const record of copiedText.split('\0')) {
      const m = /^(\d+) (\d+(?:\.\d+)?) (.+)$/s.exec(record);
      if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) continue;
      copied.set(m[3], { size: Number(m[1]), mtimeMs: Number(m[2]) * 1000 });
    }
  }
  const word = files.get('dependencies')?.toString('utf8').trim();
  const dependencies =
    word === 'installed' || word === 'reused' || word === 'none' ? word : undefined;
  return { copied, dependencies };
}
