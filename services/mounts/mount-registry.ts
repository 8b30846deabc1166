import { chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { systemClock, type Clock } from '../common/clock.ts';
import { BucketspaceError, errorMessage } from '../common/errors.ts';
import { ensurePrivateDir } from './private-path.ts';
import { migrate } from './registry-schema.ts';
import type {
  EngineName,
  MountEvent,
  MountLink,
  MountOptions,
  MountRecord,
  MountSource,
  MountState,
} from './types.ts';

export interface NewMount {
  bucket: string;
  mountPoint: string;
  engine: EngineName;
  source: MountSource;
  options: MountOptions;
  auto: boolean;
  /** The uid recording it (undefined where there are no POSIX owners). */
  ownerUid: number | undefined;
}

export interface StatusPatch {
  state?: MountState;
  pid?: number | null;
  healthy?: boolean | null;
  /** Set with `healthy`: when the check ran. */
  checked?: boolean;
}

interface MountRow {
  bucket: string;
  mount_point: string;
  engine: string;
  source: string;
  options: string;
  auto: number;
  owner_uid: number | null;
  state: string;
  pid: number | null;
  last_error: string | null;
  last_error_at: string | null;
  failures: number;
  healthy: number | null;
  last_check_at: string | null;
  created_at: string;
  updated_at: string;
}

const EVENTS_KEPT = 100;

/**
 * Every mount, its links, options, state, pid and failures, in SQLite
 * (node:sqlite). WAL mode and a busy timeout let several CLI calls and the
 * daemon use it at once; every change is one BEGIN IMMEDIATE transaction.
 * Holds no secret: credentials are read when a mount starts.
 */
export class MountRegistry {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly clock: Clock;

  private constructor(path: string, db: DatabaseSync, clock: Clock) {
    this.path = path;
    this.db = db;
    this.clock = clock;
  }

  /**
   * Open (or create) the registry at `path`. With `uid`, the registry's
   * directory, every directory above it and its files must be safe from other
   * users (decision 0028): whoever can write the registry decides where our
   * next mount goes and where our keys are sent.
   */
  static open(path: string, options: { clock?: Clock; uid: number | undefined }): MountRegistry {
    ensurePrivateDir({
      dir: dirname(path),
      files: [path, `${path}-wal`, `${path}-shm`],
      uid: options.uid,
      what: 'the mount registry (MOUNT_REGISTRY) in',
      code: 'CONFIG_INVALID',
    });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (err) {
      throw new BucketspaceError(
        'CONFIG_INVALID',
        `cannot open the mount registry ${path} (MOUNT_REGISTRY): ${errorMessage(err)}`,
        { cause: err },
      );
    }
    db.exec('PRAGMA busy_timeout = 15000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    const registry = new MountRegistry(path, db, options.clock ?? systemClock);
    registry.transaction(() => migrate(db));
    chmodSync(path, 0o600);
    return registry;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }

  /** Run `fn` in one write transaction (BEGIN IMMEDIATE: concurrent writers wait, never interleave). */
  transaction<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  get(bucket: string): MountRecord | undefined {
    const row = this.db.prepare('SELECT * FROM mounts WHERE bucket = ?').get(bucket) as
      MountRow | undefined;
    return row ? this.toRecord(row) : undefined;
  }

  list(): MountRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM mounts ORDER BY bucket')
      .all() as unknown as MountRow[];
    return rows.map((r) => this.toRecord(r));
  }

  private toRecord(row: MountRow): MountRecord {
    const links = this.db
      .prepare('SELECT root, path FROM links WHERE bucket = ? ORDER BY created_at, path')
      .all(row.bucket) as unknown as MountLink[];
    return {
      id: row.bucket,
      bucket: row.bucket,
      mountPoint: row.mount_point,
      engine: row.engine as EngineName,
      source: JSON.parse(row.source) as MountSource,
      options: JSON.parse(row.options) as MountOptions,
      auto: row.auto === 1,
      ownerUid: row.owner_uid,
      state: row.state as MountState,
      pid: row.pid,
      lastError: row.last_error,
      lastErrorAt: row.last_error_at,
      failures: row.failures,
      healthy: row.healthy === null ? null : row.healthy === 1,
      lastCheckAt: row.last_check_at,
      links: links.map((l) => ({ root: l.root, path: l.path })),
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  insert(m: NewMount): void {
    const now = this.now();
    this.db
      .prepare(
        `INSERT INTO mounts (bucket, mount_point, engine, source, options, auto, owner_uid, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        m.bucket,
        m.mountPoint,
        m.engine,
        JSON.stringify(m.source),
        JSON.stringify(m.options),
        m.auto ? 1 : 0,
        m.ownerUid ?? null,
        now,
        now,
      );
  }

  updateConfig(
    bucket: string,
    patch: { engine?: EngineName; source?: MountSource; options?: MountOptions; auto?: boolean },
  ): void {
    const { sets, values, set } = assignments();
    if (patch.engine !== undefined) set('engine', patch.engine);
    if (patch.source !== undefined) set('source', JSON.stringify(patch.source));
    if (patch.options !== undefined) set('options', JSON.stringify(patch.options));
    if (patch.auto !== undefined) set('auto', patch.auto ? 1 : 0);
    if (sets.length === 0) return;
    this.db
      .prepare(`UPDATE mounts SET ${sets.join(', ')}, updated_at = ? WHERE bucket = ?`)
      .run(...values, this.now(), bucket);
  }

  setStatus(bucket: string, patch: StatusPatch): void {
    const { sets, values, set } = assignments();
    if (patch.state !== undefined) set('state', patch.state);
    if (patch.pid !== undefined) set('pid', patch.pid);
    if (patch.healthy !== undefined)
      set('healthy', patch.healthy === null ? null : patch.healthy ? 1 : 0);
    if (patch.checked) set('last_check_at', this.now());
    if (patch.state === 'running') sets.push('last_error = NULL');
    if (sets.length === 0) return;
    this.db
      .prepare(`UPDATE mounts SET ${sets.join(', ')}, updated_at = ? WHERE bucket = ?`)
      .run(...values, this.now(), bucket);
  }

  /** Record a link; throws CONFLICT when the path is another bucket's link. */
  addLink(bucket: string, link: MountLink): void {
    const owner = this.db.prepare('SELECT bucket FROM links WHERE path = ?').get(link.path) as
      { bucket: string } | undefined;
    if (owner && owner.bucket !== bucket) {
      throw new BucketspaceError(
        'CONFLICT',
        `${link.path} is already the link of bucket ${owner.bucket}`,
        { details: { path: link.path } },
      );
    }
    if (owner) return;
    this.db
      .prepare('INSERT INTO links (path, bucket, root, created_at) VALUES (?, ?, ?, ?)')
      .run(link.path, bucket, link.root, this.now());
  }

  removeLink(path: string): void {
    this.db.prepare('DELETE FROM links WHERE path = ?').run(path);
  }

  delete(bucket: string): void {
    this.db.prepare('DELETE FROM mounts WHERE bucket = ?').run(bucket);
    this.db.prepare('DELETE FROM events WHERE bucket = ?').run(bucket);
    this.db.prepare('DELETE FROM leases WHERE name = ?').run(bucket);
  }

  /** Count a failure, keep it as the last error, and log it as an event. */
  recordFailure(bucket: string, message: string, state?: MountState): void {
    const now = this.now();
    this.db
      .prepare(
        `UPDATE mounts SET failures = failures + 1, last_error = ?, last_error_at = ?,
           state = COALESCE(?, state), updated_at = ? WHERE bucket = ?`,
      )
      .run(message, now, state ?? null, now, bucket);
    this.recordEvent(bucket, 'failure', message);
  }

  recordEvent(bucket: string, kind: MountEvent['kind'], message: string): void {
    this.db
      .prepare('INSERT INTO events (bucket, at, kind, message) VALUES (?, ?, ?, ?)')
      .run(bucket, this.now(), kind, message);
    this.db
      .prepare(
        `DELETE FROM events WHERE bucket = ? AND id <= (
           SELECT id FROM events WHERE bucket = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      )
      .run(bucket, bucket, EVENTS_KEPT);
  }

  /** Newest first. */
  events(bucket: string, limit = 20): MountEvent[] {
    return this.db
      .prepare('SELECT at, kind, message FROM events WHERE bucket = ? ORDER BY id DESC LIMIT ?')
      .all(bucket, limit) as unknown as MountEvent[];
  }

  /**
   * Take the lease `name` for `ttlMs` unless another live holder has it. A
   * holder on this host whose process is gone loses it at once; elsewhere it
   * expires. Returns the current holder's pid when refused.
   */
  tryLease(
    name: string,
    token: string,
    ttlMs: number,
    pidAlive: (pid: number) => boolean,
  ): { ok: true } | { ok: false; pid: number; host: string } {
    const host = hostname();
    return this.transaction(() => {
      const row = this.db.prepare('SELECT * FROM leases WHERE name = ?').get(name) as
        { token: string; host: string; pid: number; expires_at: number } | undefined;
      const now = this.clock.now();
      const free =
        row === undefined ||
        row.token === token ||
        row.expires_at <= now ||
        (row.host === host && !pidAlive(row.pid));
      if (!free) return { ok: false as const, pid: row.pid, host: row.host };
      this.db
        .prepare(
          `INSERT INTO leases (name, token, host, pid, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET token = excluded.token, host = excluded.host,
             pid = excluded.pid, expires_at = excluded.expires_at`,
        )
        .run(name, token, host, process.pid, now + ttlMs);
      return { ok: true as const };
    });
  }

  releaseLease(name: string, token: string): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM leases WHERE name = ? AND token = ?').run(name, token);
    });
  }
}

function assignments() {
  const sets: string[] = [];
  const values: (string | number | null)[] = [];
  const set = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  return { sets, values, set };
}
