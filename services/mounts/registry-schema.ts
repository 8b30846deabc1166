import type { DatabaseSync } from 'node:sqlite';

/**
 * The registry's schema, one migration per version. A migration runs inside
 * the opening transaction (BEGIN IMMEDIATE), so two processes opening a new
 * registry at once cannot both create it.
 */
const MIGRATIONS: string[] = [
  // 1: mounts, their links, failures and remounts, per-bucket leases.
  `
  CREATE TABLE mounts (
    bucket        TEXT PRIMARY KEY,
    mount_point   TEXT NOT NULL UNIQUE,
    engine        TEXT NOT NULL,
    source        TEXT NOT NULL,
    options       TEXT NOT NULL,
    auto          INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT 'stopped' CHECK (state IN ('stopped', 'running', 'error')),
    pid           INTEGER,
    last_error    TEXT,
    last_error_at TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    healthy       INTEGER,
    last_check_at TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );
  CREATE TABLE links (
    path       TEXT PRIMARY KEY,
    bucket     TEXT NOT NULL REFERENCES mounts (bucket) ON DELETE CASCADE,
    root       TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX links_bucket ON links (bucket);
  CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket  TEXT NOT NULL,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    message TEXT NOT NULL
  );
  CREATE INDEX events_bucket ON events (bucket, id);
  CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 2: who recorded each mount (uid), so a recorded endpoint is only trusted from its owner.
  `
  ALTER TABLE mounts ADD COLUMN owner_uid INTEGER;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the database to SCHEMA_VERSION; the caller holds a write transaction. */
export function migrate(db: DatabaseSync): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as
    { version: number } | undefined;
  const current = row?.version ?? 0;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the mount registry has schema version ${current}, newer than this bucketspace understands (${SCHEMA_VERSION}); upgrade bucketspace`,
    );
  }
  for (let v = current; v < SCHEMA_VERSION; v += 1) db.exec(MIGRATIONS[v] ?? '');
  if (row === undefined) {
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
  } else if (current !== SCHEMA_VERSION) {
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION);
  }
}
