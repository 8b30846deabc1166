import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demuxLog, LogDemuxer } from './docker-log.ts';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('demuxLog joins stdout and stderr frames into lines', () => {
  const buffer = Buffer.concat([frame(1, 'listening on 3000\nready'), frame(2, '\nwarn: x\r\n')]);
  assert.deepEqual(demuxLog(buffer), ['listening on 3000', 'ready', 'warn: x']);
});

test('LogDemuxer handles frames split at any byte', () => {
  const buffer = Buffer.concat([frame(1, 'héllo\nwörld\n'), frame(2, 'tail')]);
  for (let cut = 1; cut < buffer.length; cut++) {
    const demuxer = new LogDemuxer();
    const lines = [
      ...demuxer.push(buffer.subarray(0, cut)),
      ...demuxer.push(buffer.subarray(cut)),
      ...demuxer.flush(),
    ];
    assert.deepEqual(lines, ['héllo', 'wörld', 'tail'], `cut at ${cut}`);
  }
});

test('a TTY stream (no frame headers) passes through as text', () => {
  assert.deepEqual(demuxLog(Buffer.from('plain text log\nsecond line\n')), [
    'plain text log',
    'second line',
  ]);
});
