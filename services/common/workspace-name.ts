/**
 * Every rule about workspace names, in one place. A workspace is a directory
 * directly under the workspaces directory (WORKSPACES_DIR for the sync,
 * WORKSPACES_MOUNT for the monitor) and a prefix of the bucket. Three
 * questions are asked of a name, each answered here once:
 *
 * - can this directory entry be a workspace at all? (`isWorkspaceEntryName`:
 *   hidden entries such as `.bucketspace-backup` or `.git` are not);
 * - is this a usable workspace argument on the command line?
 *   (`workspaceArgumentProblem`: one directory name, never a path);
 * - can the monitor serve it? (`validateWorkspaceName`: a DNS label that is
 *   not one of the monitor's own routes). The sync uploads a workspace the
 *   monitor cannot serve, but says so.
 */

/**
 * First path segments the monitor serves itself. A workspace with one of these
 * names could never be reached at `/<name>/`, so it is shown as an error and
 * never run. The HTTP layer mounts its own routes only under these names.
 */
export const RESERVED_WORKSPACE_NAMES: ReadonlySet<string> = new Set([
  'monitor',
  'api',
  'healthz',
  'metrics',
  'login',
  'logout',
  'assets',
  'favicon.ico',
  'robots.txt',
]);

/** Longest DNS label, and so the longest workspace name (`<name>.<DOMAIN>`). */
export const MAX_WORKSPACE_NAME_LENGTH = 63;

/** Whether an entry directly under the workspaces directory may be a workspace (if it is a directory). */
export function isWorkspaceEntryName(name: string): boolean {
  return name !== '' && !name.startsWith('.');
}

/**
 * Why a name given on the command line (`sync workspace <name>`, `sync pull
 * <name>`) cannot name a workspace, or undefined when it can: it must be the
 * name of one directory directly under the workspaces directory.
 */
export function workspaceArgumentProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name.includes('/') || name.includes('\\') || name.includes('\0'))
    return `"${name}" is a path, not a directory name`;
  if (!isWorkspaceEntryName(name))
    return `"${name}" is hidden (starts with "."), never a workspace`;
  return undefined;
}

/**
 * Why a directory name cannot be a served workspace, or undefined when it
 * can. The container is named after the workspace and the app may be served
 * at `<name>.<DOMAIN>`, so a name must be a DNS label (which also makes it a
 * valid Docker container name part): 1 to 63 lowercase letters, digits and
 * `-`, not starting or ending with `-`. Names of the monitor's own routes
 * (RESERVED_WORKSPACE_NAMES) are refused too. The reason says exactly what is
 * wrong and, where there is one, a name that would work.
 */
export function validateWorkspaceName(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (RESERVED_WORKSPACE_NAMES.has(name)) {
    return `"${name}" is reserved for the monitor's own route /${name}; rename the directory`;
  }
  const problems: string[] = [];
  if (name.length > MAX_WORKSPACE_NAME_LENGTH) {
    problems.push(
      `is ${name.length} characters long (at most ${MAX_WORKSPACE_NAME_LENGTH}, a DNS label)`,
    );
  }
  if (/[A-Z]/.test(name)) problems.push('contains uppercase letters');
  const bad = [...new Set([...name].filter((c) => !/[a-zA-Z0-9-]/.test(c)))];
  if (bad.length > 0) {
    problems.push(`contains ${bad.map(describeCharacter).join(', ')}`);
  }
  if (name.startsWith('-')) problems.push('starts with "-"');
  if (name.endsWith('-')) problems.push('ends with "-"');
  if (problems.length === 0) return undefined;
  const suggestion = suggestName(name);
  return (
    `"${name}" ${problems.join(', ')}: a workspace name may hold only lowercase letters, ` +
    `digits and "-" (not first or last), at most ${MAX_WORKSPACE_NAME_LENGTH} characters` +
    (suggestion === undefined ? '' : `; rename the directory, e.g. to "${suggestion}"`)
  );
}

function describeCharacter(c: string): string {
  if (c === ' ') return 'a space';
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `control character U+${hex(code)}`;
  if (code > 0x7e) return `"${c}" (U+${hex(code)})`;
  return `"${c}"`;
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

/** A valid name close to the given one, when one can be made. */
function suggestName(name: string): string | undefined {
  const suggestion = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_WORKSPACE_NAME_LENGTH)
    .replace(/-+$/, '');
  if (suggestion === '' || RESERVED_WORKSPACE_NAMES.has(suggestion)) return undefined;
  return suggestion;
}
