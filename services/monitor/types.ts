/**
 * The monitor's shared vocabulary: what detection decides, what discovery
 * sees, and what the supervisor exposes to the HTTP layer (API, proxy,
 * dashboard). Each part of services/monitor/ depends on these types, not on
 * each other.
 */

export type RuntimeType = 'node' | 'python' | 'go' | 'static';

/** How to run a workspace, and why detection chose it. */
export interface RunPlan {
  type: RuntimeType;
  /** Shell command run in /app before the start command; null when nothing to install. */
  install: string | null;
  /** Shell command that starts the app in /app (static sites: served by nginx, informative only). */
  start: string;
  /** Port the app listens on inside its container. */
  port: number;
  /** Extra environment for the app (from workspace.json). */
  env: Record<string, string>;
  /**
   * How many copies run at once, when workspace.json sets it: the replicas of
   * a Swarm service (RUNTIME_ENGINE=swarm); the Docker engine runs one.
   */
  replicas?: number;
  /** Why: "package.json with scripts.start", "workspace.json sets type node". */
  reason: string;
  source: 'workspace.json' | 'detected';
}

export type Detection =
  | { kind: 'runnable'; plan: RunPlan }
  /** Nothing says how to run it; `reason` says what was looked for. */
  | { kind: 'unrecognized'; reason: string }
  /** A bad workspace.json or a name that cannot be served; never run. */
  | { kind: 'invalid'; reason: string };

/**
 * The pure input of detection: which files exist at the workspace root (and
 * `public/index.html`), and the text of the few small files detection reads.
 */
export interface WorkspaceProbe {
  name: string;
  /** POSIX paths relative to the workspace root, non-ignored regular files only. */
  files: ReadonlySet<string>;
  /** Contents of the files in DETECTION_FILES that exist (workspace.json, package.json, ...). */
  texts: ReadonlyMap<string, string>;
}

/** One file a scan fingerprinted: what the copy in the container must match. */
export interface ScannedFile {
  /** POSIX path relative to the workspace root. */
  relPath: string;
  size: number;
  mtimeMs: number;
}

/** What one discovery scan saw of one workspace. */
export interface WorkspaceSnapshot {
  name: string;
  /** Absolute path of the workspace directory on the mount. */
  dir: string;
  /** Changes whenever a non-ignored file is added, removed or modified (path, size, mtime). */
  fingerprint: string;
  fileCount: number;
  /** Newest mtime among the files, ms since the epoch (0 when empty). */
  lastChangeMs: number;
  probe: WorkspaceProbe;
  /** The fingerprinted files (non-ignored regular files), sorted by path. */
  files: readonly ScannedFile[];
  /** SHA-256 of the dependency files at the root that exist (DEPENDENCY_FILES: lockfiles, go.sum...). */
  hashes: ReadonlyMap<string, string>;
  /** Problems that made the scan of this workspace incomplete (unreadable subdirectory, ...). */
  errors: string[];
}

export type ScanResult =
  | { mount: 'ok'; workspaces: Map<string, WorkspaceSnapshot> }
  /** ENOTCONN, EIO, an unreadable or missing root: never remove anything on this. */
  | { mount: 'unavailable'; reason: string };

export type WorkspaceState =
  | 'pending'
  | 'starting'
  | 'running'
  | 'restarting'
  | 'crashing'
  | 'stopped'
  | 'unrecognized'
  | 'error';

/** One workspace as the API and dashboard show it. */
export interface WorkspaceView {
  name: string;
  state: WorkspaceState;
  type: RuntimeType | null;
  /** Detection reason, or what is wrong (bad workspace.json, invalid name). */
  reason: string;
  /** Human explanation of the current state: "waiting for port 3000", "exited with code 1". */
  message: string | null;
  /** Its path on the apps origin, e.g. "/shop/"; the REST API shows the app's full URL there. */
  url: string;
  /** ISO time the current container started serving; null when not running. */
  startedAt: string | null;
  /** ISO time of the newest change to the workspace's files. */
  lastChangeAt: string | null;
  fingerprint: string | null;
  containerId: string | null;
  restarts: number;
  exitCode: number | null;
  /** Last log lines of a crashed container. */
  lastLogLines: string[];
  /** What the monitor checked of the serving container; null while nothing serves. */
  deploy: DeployView | null;
}

/** How the serving container came to be: its copy of the files, its dependencies. */
export interface DeployView {
  /**
   * `verified`: every file the scan fingerprinted was in the container's copy
   * with the same size and mtime. `unverified`: the runtime image reported no
   * copy (an image without the report of images/README.md).
   */
  copy: 'verified' | 'unverified';
  /** Files compared. */
  files: number;
  /** `installed`: fresh; `reused`: from the previous container's cache; `none`: nothing to install. */
  dependencies: 'installed' | 'reused' | 'none' | 'unknown';
  /** Why: which files the cache is keyed on, or why it is not cached. */
  dependencyNote: string;
}

export interface MonitorStatus {
  mount: 'ok' | 'unavailable';
  mountReason: string | null;
  docker: 'ok' | 'unreachable';
  dockerReason: string | null;
  /**
   * Whether the apps are kept apart (decision 0055): `on`, the firewall is in
   * place; `off`, by RUNTIME_ISOLATION; `pending` until first applied;
   * `failed`, no new container starts until it works.
   */
  isolation: 'on' | 'off' | 'pending' | 'failed';
  /** What is in place, or why it failed. */
  isolationReason: string | null;
}

export type MonitorEvent =
  | { type: 'workspace'; workspace: WorkspaceView }
  | { type: 'workspace-removed'; name: string }
  | { type: 'status'; status: MonitorStatus };

export interface ProxyTarget {
  host: string;
  port: number;
}

/**
 * What the supervisor offers the HTTP layer. Methods that name a workspace
 * throw BucketspaceError NOT_FOUND for an unknown one, CONFLICT when the
 * action makes no sense in its state (start of an unrecognized workspace).
 */
export interface MonitorApi {
  status(): MonitorStatus;
  list(): WorkspaceView[];
  get(name: string): WorkspaceView | undefined;
  /** Where `/<name>/...` goes; undefined while not ready (the view says why). */
  target(name: string): ProxyTarget | undefined;
  restart(name: string): Promise<void>;
  stop(name: string): Promise<void>;
  start(name: string): Promise<void>;
  /** Last `tail` lines of the workspace's container log. */
  logs(name: string, tail: number): Promise<string[]>;
  /** Log lines as they come, until the signal aborts or the container goes. */
  followLogs(name: string, signal: AbortSignal): AsyncIterable<string>;
  /** The sync service says these workspaces changed (all when empty): rescan now. */
  notifyChanged(names: string[]): void;
  subscribe(listener: (event: MonitorEvent) => void): () => void;
}
