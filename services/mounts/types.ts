/**
 * The mount manager's shared vocabulary: what a mount is (as the registry,
 * CLI and REST API show it), how an engine is asked to mount, and what the
 * host offers (mount table, timed stat, unmount, process checks).
 */

export type EngineName = 'rclone' | 's3fs';
export const ENGINE_NAMES: readonly EngineName[] = ['rclone', 's3fs'];

export type CacheMode = 'off' | 'writes' | 'full';
export const CACHE_MODES: readonly CacheMode[] = ['off', 'writes', 'full'];

/**
 * `stopped`: not mounted, and not wanted (stop, or never started).
 * `running`: mounted (the daemon keeps it so).
 * `error`: wanted but the last start or health check failed (`lastError` says why);
 * the daemon retries it with backoff.
 */
export type MountState = 'stopped' | 'running' | 'error';

export interface MountOptions {
  readOnly: boolean;
  cacheMode: CacheMode;
  /** Most the local cache may hold, rclone size syntax (`1G`, `500M`); null: engine default. */
  cacheSize: string | null;
  /** How long directory listings are cached, ms; null: engine default. */
  dirCacheMs: number | null;
  /** rclone filter patterns hidden from the mount. */
  excludes: string[];
}

/** Where the bucket comes from. Never holds a secret: credentials are read at start. */
export type MountSource =
  | { kind: 's3'; endpoint: string | null; region: string; forcePathStyle: boolean }
  /** An rclone remote the user configured already (rclone.conf). */
  | { kind: 'remote'; name: string };

export interface MountLink {
  /** The directory the user named with --root. */
  root: string;
  /** The symlink, `<root>/<bucket>`, pointing at the mount point. */
  path: string;
}

/** One mount as the registry, the CLI and the REST API show it. */
export interface MountRecord {
  /** The bucket name: one mount per bucket. */
  id: string;
  bucket: string;
  mountPoint: string;
  engine: EngineName;
  source: MountSource;
  options: MountOptions;
  /** Mounted by `bucketspace mount daemon` when it starts. */
  auto: boolean;
  /** The uid of the user who recorded it; null for mounts recorded before this was kept. */
  ownerUid: number | null;
  state: MountState;
  pid: number | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Failures recorded since the mount was added. */
  failures: number;
  /** Result of the last health check; null before the first one. */
  healthy: boolean | null;
  lastCheckAt: string | null;
  links: MountLink[];
  createdAt: string;
  updatedAt: string;
}

export interface MountEvent {
  at: string;
  kind: 'failure' | 'remount' | 'info';
  message: string;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Everything an engine needs to build its command. */
export interface MountSpec {
  bucket: string;
  mountPoint: string;
  source: MountSource;
  options: MountOptions;
  /** From the S3 settings of the process that starts the mount; never stored. */
  credentials: Credentials | undefined;
  cacheDir: string;
}

/** A program to run in the background: file, argv (never a secret) and environment. */
export interface LaunchCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

/** One FUSE client program (rclone, s3fs): pure command building, no I/O. */
export interface MountEngine {
  readonly name: EngineName;
  /** The program that must be on PATH, and how to get it. */
  readonly program: string;
  readonly installHint: string;
  /** What in these options or source this engine cannot do. */
  problems(source: MountSource, options: MountOptions): string[];
  /** The foreground mount command; secrets go in `env`, never in `args`. */
  command(spec: MountSpec, baseEnv: Readonly<Record<string, string | undefined>>): LaunchCommand;
}

export type StatResult = { ok: true } | { ok: false; reason: string };

export interface HealthResult {
  healthy: boolean;
  /** Why not: "not mounted", "stat: Transport endpoint is not connected", ... */
  reason: string | null;
  mounted: boolean;
}

/** The machine: FUSE, mount table, processes. One real adapter (FuseHost). */
export interface MountHost {
  /** Throws TOOL_MISSING / MOUNT_UNAVAILABLE when this machine cannot mount with `program`. */
  checkCanMount(program: string, installHint: string): void;
  isMounted(path: string): Promise<boolean>;
  /** `stat` in a child process, killed after `timeoutMs` (a hung FUSE never blocks us). */
  statTimed(path: string, timeoutMs: number): Promise<StatResult>;
  /** Lazy unmount detaches even when busy; throws MOUNT_BUSY / MOUNT_FAILED. */
  unmount(path: string, options: { lazy: boolean }): Promise<void>;
  /** Processes with a working directory or open file under `path` (Linux; [] elsewhere). */
  busyProcesses(path: string): Promise<{ pid: number; command: string }[]>;
  pidAlive(pid: number): boolean;
  /** Whether process `pid` is a mount process serving `mountPoint` (guards against reused pids). */
  servesMount(pid: number, mountPoint: string): Promise<boolean>;
  /** Start `cmd` detached (it outlives us), stdout/stderr to `logFile`; resolves when spawned. */
  launch(cmd: LaunchCommand, logFile: string): Promise<LaunchedProcess>;
}

export interface LaunchedProcess {
  pid: number;
  /** Exit code (or signal name) once the process has exited; undefined while it runs. */
  exited(): string | undefined;
}
