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
