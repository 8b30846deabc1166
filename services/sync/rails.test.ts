import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exceedsMaxDelete } from './rails.ts';
import { parseMaxDelete } from './sync-settings.ts';

test('default delete limit: refuse only when more than half AND more than 10', () => {
  const d = { kind: 'default' } as const;
  assert.equal(exceedsMaxDelete(10, 10, d), false, '10 of 10 is allowed (not more than 10)');
  assert.equal(exceedsMaxDelete(11, 12, d), true);
  assert.equal(exceedsMaxDelete(11, 22, d), false, 'exactly half is allowed');
  assert.equal(exceedsMaxDelete(12, 22, d), true);
  assert.equal(exceedsMaxDelete(400, 1000, d), false);
  assert.equal(exceedsMaxDelete(0, 0, d), false);
});

test('--max-delete as a count or a percentage', () => {
  assert.deepEqual(parseMaxDelete('25'), { kind: 'count', value: 25 });
  assert.deepEqual(parseMaxDelete('10%'), { kind: 'percent', value: 10 });
  assert.equal(parseMaxDelete('150%'), undefined);
  assert.equal(parseMaxDelete('ten'), undefined);
  assert.equal(parseMaxDelete('2.5'), undefined);
  assert.equal(exceedsMaxDelete(3, 100, { kind: 'count', value: 2 }), true);
  assert.equal(exceedsMaxDelete(2, 100, { kind: 'count', value: 2 }), false);
  assert.equal(exceedsMaxDelete(11, 100, { kind: 'percent', value: 10 }), true);
  assert.equal(exceedsMaxDelete(10, 100, { kind: 'percent', value: 10 }), false);
  assert.equal(
    exceedsMaxDelete(1, 100, { kind: 'count', value: 0 }),
    true,
    '--max-delete 0 forbids any delete',
  );
});
