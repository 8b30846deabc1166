import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PURGE_CHECK_MAX_MS,
  purgeDue,
  recordAfterPurge,
  recordWithOpened,
} from './purge-schedule.ts';
import { TrashEntries } from './trash-entries.ts';
import { chooseEntry, expiredEntries, indexTrash } from './trash-index.ts';

const DAY = 86_400_000;
const info = (key: string, size = 1) => ({
  key,
  size,
  etag: `e-${key}`,
  lastModified: new Date(0),
});

describe('indexTrash', () => {
  test('groups a listing into entries per workspace, oldest first; strays apart', () => {
    const { entries, strays } = indexTrash(
      [
        '.trash/shop/2026-11-30T12-00-00.000Z/index.js',
        '.trash/shop/2026-11-30T12-00-00.000Z/src/a.js',
        '.trash/shop/2026-11-29T08-00-00.000Z/old.js',
        '.trash/api/2026-11-30T09-00-00.000Z/app.py',
        '.trash/notes.txt',
        '.trash/shop/yesterday/x',
      ].map((k) => info(k, 10)),
    );
    assert.deepEqual(
      entries.map((e) => [e.workspace, e.entry, e.objects.map((o) => o.relPath), e.bytes]),
      [
        ['api', '2026-11-30T09-00-00.000Z', ['app.py'], 10],
        ['shop', '2026-11-29T08-00-00.000Z', ['old.js'], 10],
        ['shop', '2026-11-30T12-00-00.000Z', ['index.js', 'src/a.js'], 20],
      ],
    );
    assert.deepEqual(strays, ['.trash/notes.txt', '.trash/shop/yesterday/x']);
  });
});

describe('retention', () => {
  const { entries } = indexTrash([
    info('.trash/a/2026-11-01T00-00-00.000Z/x'),
    info('.trash/b/2026-11-07T12-00-00.000Z/y'),
  ]);
  const now = Date.parse('2026-11-08T00:00:00Z');
  test('entries older than the retention expire; younger ones stay', () => {
    assert.deepEqual(
      expiredEntries(entries, now, 7 * DAY).map((e) => e.workspace),
      ['a'],
    );
    assert.deepEqual(
      expiredEntries(entries, now, 0).map((e) => e.workspace),
      ['a', 'b'],
      '0: no trash, everything goes',
    );
    assert.deepEqual(expiredEntries(entries, now, 30 * DAY), []);
  });

  test('the trash is listed only when something may be due', () => {
    const retention = 7 * DAY;
    assert.equal(purgeDue(undefined, now, retention), true, 'no record: list');
    const record = recordAfterPurge(entries.slice(1), now, retention);
    assert.deepEqual(record, {
      retentionMs: retention,
      checkedAt: now,
      dueAt: Date.parse('2026-11-14T12:00:00Z'),
    });
    assert.equal(purgeDue(record, now + DAY / 2, retention), false, 'nothing due yet');
    assert.equal(purgeDue(record, record.dueAt ?? 0, retention), true, 'b is due');
    assert.equal(purgeDue(record, now + DAY / 2, DAY), true, 'the retention changed');
    const empty = recordAfterPurge([], now, retention);
    assert.equal(empty.dueAt, null);
    assert.equal(purgeDue(empty, now + PURGE_CHECK_MAX_MS - 1, retention), false);
    assert.equal(purgeDue(empty, now + PURGE_CHECK_MAX_MS, retention), true, 'a day later: look');
    assert.equal(purgeDue(empty, now - 1, retention), true, 'the clock went back: look');
    const opened = recordWithOpened(empty, now + 1000);
    assert.equal(opened.dueAt, now + 1000 + retention, 'an entry this process opened');
    assert.equal(
      recordWithOpened(record, now + 1000).dueAt,
      record.dueAt,
      'the earlier one counts',
    );
  });
});

describe('chooseEntry', () => {
  const { entries } = indexTrash([
    info('.trash/shop/2026-11-29T08-00-00.000Z/a'),
    info('.trash/shop/2026-11-30T12-34-56.789Z/a'),
    info('.trash/shop/2026-11-30T12-50-00.000Z/a'),
    info('.trash/api/2026-11-30T09-00-00.000Z/b'),
  ]);
  const pick = (at?: string) => {
    const c = chooseEntry(entries, 'shop', at);
    return 'entry' in c ? c.entry.entry : c.problem;
  };
  test('the newest without --at; --at by name, leading part or ISO time', () => {
    assert.equal(pick(), '2026-11-30T12-50-00.000Z');
    assert.equal(pick('2026-11-29'), '2026-11-29T08-00-00.000Z');
    assert.equal(pick('2026-11-30T12:34:56Z'), '2026-11-30T12-34-56.789Z');
    assert.equal(pick('2026-11-30T12-50-00.000Z'), '2026-11-30T12-50-00.000Z');
  });
  test('ambiguous, unknown, or nothing of that workspace: a problem naming what there is', () => {
    assert.match(pick('2026-11-30'), /matches 2 entries of "shop" .*give more of the time/);
    assert.match(pick('2025'), /no entry of "shop" .* its entries: 2026-11-29T08-00-00.000Z, /);
    const none = chooseEntry(entries, 'blog');
    assert.equal(
      'problem' in none ? none.problem : '',
      'the trash holds nothing of "blog"; it holds: api, shop',
    );
    const empty = chooseEntry([], 'blog');
    assert.match('problem' in empty ? empty.problem : '', /\(it is empty\)/);
  });
});

describe('TrashEntries', () => {
  test('removals of a workspace within the window join one entry; later ones open a new one', () => {
    const t0 = Date.parse('2026-11-30T12:00:00Z');
    const entries = new TrashEntries({ reuseWithinMs: 60_000 });
    const first = entries.entryFor('shop', t0);
    assert.equal(first, '2026-11-30T12-00-00.000Z');
    assert.equal(entries.entryFor('shop', t0 + 50_000), first, 'a slow rm -rf: same entry');
    assert.equal(
      entries.entryFor('shop', t0 + 100_000),
      first,
      'the window follows the last removal',
    );
    assert.equal(
      entries.entryFor('api', t0 + 100_000),
      '2026-11-30T12-01-40.000Z',
      'per workspace',
    );
    assert.equal(
      entries.entryFor('shop', t0 + 200_000),
      '2026-11-30T12-03-20.000Z',
      'a quiet minute: new',
    );
    assert.equal(entries.takeFirstOpened(), t0);
    assert.equal(entries.takeFirstOpened(), undefined);
    entries.close('shop', '2026-11-30T12-03-20.000Z');
    assert.equal(entries.entryFor('shop', t0 + 201_000), '2026-11-30T12-03-21.000Z', 'closed: new');
  });
});
