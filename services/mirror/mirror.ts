import { mkdir, stat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { systemClock, type Clock } from '../common/clock.ts';
import { asBucketspaceError, BucketspaceError } from '../common/errors.ts';
import { logEffectiveConfig } from '../common/effective-config.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { loggableS3Config } from '../common/s3/s3-settings.ts';
import { listingStarted } from '../common/s3/object-store.ts';
import { parseDuration } from '../common/settings.ts';
import { noProgress, terminalProgress } from '../sync/progress.ts';
import { BucketStores, type MirrorContext } from './mirror-context.ts';
import { reportError } from './mirror-report.ts';
import { resolveMirrorSettings, type MirrorSettings } from './mirror-settings.ts';
import { cachePath, localPath, parseLocation, prefixOf, type S3Location } from './location.ts';
import { PeriodicRun } from './periodic-run.ts';
import type { Target } from './target.ts';
import type {
  CloseOptions,
  DownloadOptions,
  Duration,
  LsOptions,
  MirrorEvent,
  MirrorOptions,
  MirrorReport,
  SyncOptions,
  UploadOptions,
} from './types.ts';

/**
 * The runs' modules (planner, walk, transfers), loaded on first use: a
 * download asks for its listing first, and they load while S3 answers (the
 * first request of a no-op download from the command line leaves about
 * 15 ms sooner).
 */
function loadRuns() {
  return Promise.all([
    import('./mirror-download.ts'),
    import('./mirror-upload.ts'),
    import('./mirror-ls.ts'),
  ]);
}
let runModules: ReturnType<typeof loadRuns> | undefined;

async function runs() {
  const [download, upload, ls] = await (runModules ??= loadRuns());
  return { ...download, ...upload, ...ls };
}

/** An upload's interval unless one is given. */
const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** The shortest interval: a shorter one would only queue runs. */
const MIN_INTERVAL_MS = 10;

/** A path registered for upload: uploaded on its interval and once more on close. */
interface Registration {
  target: Target;
  delete: boolean;
  force: boolean;
  syncOnError: boolean;
  runs: PeriodicRun;
}

/**
 * Local files for a pipeline, with S3 as the store: `download` inputs,
 * `upload` (or `sync`) outputs that go up in the background and once more on
 * close. Open with `mirror()`, leave with `await using` or `withMirror()`.
 */
export class Mirror implements AsyncDisposable {
  readonly cacheRoot: string;
  readonly #ctx: MirrorContext;
  readonly #clock: Clock;
  readonly #signal: AbortSignal | undefined;
  readonly #registrations: Registration[] = [];
  #closing: Promise<void> | undefined;

  /** Use `mirror()`. */
  constructor(ctx: MirrorContext, clock: Clock, signal: AbortSignal | undefined) {
    this.#ctx = ctx;
    this.#clock = clock;
    this.#signal = signal;
    this.cacheRoot = ctx.settings.cacheRoot;
    signal?.addEventListener('abort', () => void this.#stopBackground(), { once: true });
  }

  /** Whether `close()` was called (every call after it throws MIRROR_CLOSED). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Makes the local path match S3 and returns it: the objects under the
   * prefix (a directory) or the one object (a file). A local path is
   * returned unchanged, nothing copied.
   */
  async download(remote: string, options: DownloadOptions = {}): Promise<string> {
    const target = this.#resolve('download', remote, options);
    if (typeof target === 'string') return target;
    const signal = this.#callSignal(options.signal);
    const { store } = this.#ctx.buckets.get(target.location.bucket);
    const listing = listingStarted(store, prefixOf(target.location), signal);
    await new Promise(setImmediate); // its first request is on its way: signing it takes no I/O
    const { mirrorDownload } = await runs();
    await this.#run('download', target, false, () =>
      mirrorDownload(this.#ctx, target, {
        delete: options.delete ?? true,
        force: options.force ?? false,
        signal,
        progress: this.#ctx.progress(),
        listing,
      }),
    );
    return target.local;
  }

  /**
   * Registers a local path whose content goes to S3: every `interval` in the
   * background and once more on close. The directory is created when
   * missing; an existing file is uploaded as the one object. Returns the
   * local path (a local path given as `remote` is returned unchanged).
   */
  async upload(remote: string, options: UploadOptions = {}): Promise<string> {
    const target = this.#resolve('upload', remote, options);
    if (typeof target === 'string') return target;
    const intervalMs = intervalOf(options.interval);
    this.#assertFree(target);
    const isFile = await stat(target.local).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!isFile) await (await runs()).ensureDirectory(target.local, target.location.url);
    this.#register(target, { ...options, intervalMs });
    return target.local;
  }

  /** `download` (with `deleteLocal`), then `upload` (with `deleteRemote`) of the same path. */
  async sync(remote: string, options: SyncOptions = {}): Promise<string> {
    const target = this.#resolve('sync', remote, options);
    if (typeof target === 'string') return target;
    const intervalMs = intervalOf(options.interval);
    this.#assertFree(target);
    await this.download(target.location.url, {
      ...options,
      local: target.local,
      delete: options.deleteLocal ?? true,
    });
    this.#assertOpen('sync');
    this.#register(target, { ...options, delete: options.deleteRemote ?? true, intervalMs });
    return target.local;
  }

  /** URLs (or local paths) at a location: one level, or every object below with `recursive`. */
  async ls(remote: string, options: LsOptions = {}): Promise<string[]> {
    this.#assertOpen('ls');
    const location = parseLocation(remote);
    const { listLocation } = await runs();
    return listLocation(
      location,
      () => this.#ctx.buckets.get((location as S3Location).bucket).store,
      { recursive: options.recursive ?? false, signal: this.#callSignal(options.signal) },
    );
  }

  /**
   * Stops the background uploads (waiting for one in flight) and uploads
   * every registered path once more — after a failure (`error` given) only
   * those registered with `syncOnError`. Throws when a last upload failed,
   * after trying all of them. Idempotent: a second call waits for the first.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  /** `await using`: the same as `close()` — it cannot see an exception, so every registered path is uploaded. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(options: CloseOptions): Promise<void> {
    const log = this.#ctx.logger;
    const failed = 'error' in options && options.error !== undefined;
    await this.#stopBackground();
    const errors: BucketspaceError[] = [];
    const last: Promise<void>[] = [];
    for (const reg of this.#registrations) {
      const where = { remote: reg.target.location.url, local: reg.target.local };
      if (this.#signal?.aborted === true) {
        log.warn(where, 'aborted: no last upload');
      } else if (failed && !reg.syncOnError) {
        log.info(where, 'the body failed: no last upload (syncOnError is off)');
      } else {
        last.push(
          reg.runs.runOnce().catch((err: unknown) => {
            errors.push(asBucketspaceError(err));
          }),
        );
      }
    }
    await Promise.all(last);
    this.#ctx.buckets.destroy();
    const [first] = errors;
    if (first === undefined) return;
    if (errors.length === 1) throw first;
    throw new BucketspaceError(
      first.code,
      `${errors.length} last uploads failed: ${errors.map((e) => e.message).join('; ')}`,
      { details: { errors } },
    );
  }

  async #stopBackground(): Promise<void> {
    await Promise.all(this.#registrations.map((r) => r.runs.stop()));
  }

  #register(
    target: Target,
    options: {
      delete?: boolean;
      force?: boolean;
      syncOnError?: boolean;
      intervalMs: number | undefined;
    },
  ): void {
    const registration: Registration = {
      target,
      delete: options.delete ?? true,
      force: options.force ?? false,
      syncOnError: options.syncOnError ?? false,
      runs: new PeriodicRun({
        clock: this.#clock,
        intervalMs: options.intervalMs,
        // The interval's runs (background) report their failures; the last run throws them.
        run: () => this.#uploadRun(registration, this.closed),
      }),
    };
    this.#registrations.push(registration);
    registration.runs.start();
    this.#ctx.logger.info(
      { remote: target.location.url, local: target.local, intervalMs: options.intervalMs },
      'registered for upload',
    );
  }

  async #uploadRun(reg: Registration, last: boolean): Promise<void> {
    const { mirrorUpload } = await runs();
    const run = () =>
      mirrorUpload(this.#ctx, reg.target, {
        delete: reg.delete,
        force: reg.force,
        background: !last,
        signal: this.#signal,
        progress: last ? this.#ctx.progress() : noProgress,
      });
    if (last) {
      await this.#run('upload', reg.target, false, run);
      return;
    }
    try {
      await this.#run('upload', reg.target, true, run);
    } catch (err) {
      this.#ctx.logger.warn(
        { err, remote: reg.target.location.url, local: reg.target.local },
        'background upload failed; the next run and the last one on close try again',
      );
    }
  }

  /**
   * Runs one download or upload: the end event with its report; its error
   * (a failure, or a report saying the sides do not match) told as an event
   * and thrown.
   */
  async #run(
    operation: MirrorReport['operation'],
    target: Target,
    background: boolean,
    run: () => Promise<MirrorReport>,
  ): Promise<void> {
    const base = { operation, remote: target.location.url, local: target.local, background };
    let error: BucketspaceError | undefined;
    try {
      const report = await run();
      this.#ctx.emit({ ...base, type: 'end', report });
      error = reportError(report);
    } catch (err) {
      error = asBucketspaceError(err);
    }
    if (error !== undefined) {
      this.#ctx.emit({ ...base, type: 'error', error });
      throw error;
    }
  }

  /** What a call names: a local path (returned as it is) or the target of an s3:// URL. */
  #resolve(
    call: string,
    remote: string,
    options: { local?: string; exclude?: readonly string[] },
  ): Target | string {
    this.#assertOpen(call);
    const location = parseLocation(remote);
    return location.kind === 'local' ? location.path : this.#target(location, options);
  }

  #target(location: S3Location, options: { local?: string; exclude?: readonly string[] }): Target {
    const exclude = options.exclude ?? [];
    if (!Array.isArray(exclude) || exclude.some((p) => typeof p !== 'string'))
      throw new BucketspaceError('INVALID_INPUT', 'exclude must be a list of patterns (strings)');
    return {
      location,
      local: localPath(options.local ?? cachePath(this.cacheRoot, location)),
      exclude,
    };
  }

  /** One registration per path: two would race each other's deletions. */
  #assertFree(target: Target): void {
    const overlaps = (a: S3Location, b: S3Location) =>
      a.bucket === b.bucket &&
      (a.key === b.key ||
        a.key === '' ||
        b.key === '' ||
        a.key.startsWith(`${b.key}/`) ||
        b.key.startsWith(`${a.key}/`));
    const taken = this.#registrations.find(
      (r) => overlaps(r.target.location, target.location) || r.target.local === target.local,
    );
    if (taken !== undefined)
      throw new BucketspaceError(
        'CONFLICT',
        `${target.location.url} (${target.local}) overlaps ${taken.target.location.url} (${taken.target.local}), already registered for upload in this mirror`,
      );
  }

  #assertOpen(call: string): void {
    if (this.#closing !== undefined)
      throw new BucketspaceError(
        'MIRROR_CLOSED',
        `${call}() after the mirror was closed: call it inside mirror()'s scope (before close(), inside withMirror's body)`,
      );
    if (this.#signal?.aborted === true)
      throw new BucketspaceError('ABORTED', `${call}(): the mirror's signal was aborted`, {
        cause: this.#signal.reason,
      });
  }

  #callSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
    const signals = [this.#signal, signal].filter((s) => s !== undefined);
    return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }
}

function intervalOf(interval: Duration | null | undefined): number | undefined {
  if (interval === null || (interval as unknown) === false) return undefined;
  if (interval === undefined) return DEFAULT_INTERVAL_MS;
  const ms = typeof interval === 'number' ? interval : parseDuration(interval);
  if (ms === undefined || !Number.isFinite(ms) || ms < MIN_INTERVAL_MS)
    throw new BucketspaceError(
      'INVALID_INPUT',
      `interval ${JSON.stringify(interval)}: expected a duration like '30s', '5m' or a number of milliseconds (at least ${MIN_INTERVAL_MS}), or null for on close only`,
    );
  return ms;
}

/**
 * Opens a mirror: settings from `options` over the `S3_*`, `MIRROR_*` and
 * `LOG_LEVEL` variables, checked at once (CONFIG_INVALID lists every
 * problem); the cache root is created.
 */
export async function mirror(options: MirrorOptions = {}): Promise<Mirror> {
  // eslint-disable-next-line no-restricted-properties -- a library's entry: its caller's environment, read once here
  const env = options.env ?? process.env;
  const settings = resolveMirrorSettings({
    env,
    ...(options.s3 ? { s3: options.s3 } : {}),
    mirror: {
      ...(options.cacheRoot !== undefined ? { cacheRoot: options.cacheRoot } : {}),
      ...(options.maxWorkers !== undefined ? { maxWorkers: options.maxWorkers } : {}),
      ...(options.maxDelete !== undefined ? { maxDelete: options.maxDelete } : {}),
    },
  });
  const logger =
    options.logger ?? createLogger({ level: settings.logLevel ?? 'warn', pretty: false });
  return openMirror({
    settings,
    logger,
    progressStream: options.showProgress === false ? undefined : process.stderr,
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** A mirror from settings already resolved (the library's `mirror()`, the CLI). */
export async function openMirror(input: {
  settings: MirrorSettings;
  logger: Logger;
  /** Progress bars go here when it is a terminal; none when undefined. */
  progressStream: NodeJS.WriteStream | undefined;
  onEvent?: (event: MirrorEvent) => void;
  clock?: Clock;
  signal?: AbortSignal;
}): Promise<Mirror> {
  const { settings, progressStream, onEvent } = input;
  const logger = input.logger.child({ component: 'mirror' });
  logEffectiveConfig(logger, {
    mirror: {
      cacheRoot: settings.cacheRoot,
      maxWorkers: settings.maxWorkers,
      maxDelete: settings.maxDelete,
    },
    s3: { ...loggableS3Config(settings.s3For('(each call names its bucket)')) },
  });
  await mkdir(settings.cacheRoot, { recursive: true });
  const bars = progressStream?.isTTY === true ? progressStream : undefined;
  const ctx: MirrorContext = {
    settings,
    logger,
    buckets: new BucketStores(settings, logger),
    slots: pLimit(settings.maxWorkers),
    progress: () => (bars ? terminalProgress(bars) : noProgress),
    emit: (event: MirrorEvent) => {
      try {
        onEvent?.(event);
      } catch (err) {
        logger.warn({ err, event: event.type }, 'onEvent threw; the mirror goes on');
      }
    },
  };
  return new Mirror(ctx, input.clock ?? systemClock, input.signal);
}

/**
 * Opens a mirror, runs `body` with it and closes it. When the body throws,
 * only paths registered with `syncOnError` are uploaded, and the body's
 * error is rethrown (with a failed last upload, as a SuppressedError whose
 * `suppressed` is the body's error, as `await using` does).
 */
export async function withMirror<T>(
  options: MirrorOptions,
  body: (m: Mirror) => Promise<T> | T,
): Promise<T> {
  const m = await mirror(options);
  let result: T;
  try {
    result = await body(m);
  } catch (err) {
    try {
      await m.close({ error: err });
    } catch (closeError) {
      throw new SuppressedError(closeError, err, 'the last uploads failed after the body threw');
    }
    throw err;
  }
  await m.close();
  return result;
}
