import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TRANSFER_HEAP_FLAGS, transferHeapFlags } from './small-heap.ts';

const SMALL_HEAP = fileURLToPath(new URL('./small-heap.ts', import.meta.url));

test('the transfer flags are set only on the V8 versions they were checked on', () => {
  assert.deepEqual(transferHeapFlags('13.6.233.17-node.29'), TRANSFER_HEAP_FLAGS);
  assert.deepEqual(transferHeapFlags('14.6.202.34-node.34'), TRANSFER_HEAP_FLAGS);
  assert.deepEqual(transferHeapFlags('12.4.254.21-node.33'), []);
  assert.deepEqual(transferHeapFlags('15.0.0'), []);
  assert.deepEqual(transferHeapFlags('not a version'), []);
});

/** What a fresh Node prints on stderr after running `code` (an ES module). */
function stderrOf(code: string): string {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  return child.stderr;
}

test("this Node's V8 knows every transfer flag and takes them without a word", () => {
  const flags = transferHeapFlags(process.versions.v8);
  assert.notEqual(
    flags.length,
    0,
    `V8 ${process.versions.v8} is not among the checked versions: look for ${TRANSFER_HEAP_FLAGS.join(' ')} in \`node --v8-options\`, then add its major to TRANSFER_FLAGS_CHECKED`,
  );
  const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
  for (const flag of flags) {
    const name = flag.split('=')[0] ?? flag;
    assert.ok(known.includes(`  ${name} (`), `${name} is not in this V8's --v8-options`);
  }
  assert.equal(
    stderrOf(
      `import { tuneHeapForTransfers } from ${JSON.stringify(SMALL_HEAP)}; tuneHeapForTransfers();`,
    ),
    '',
  );
  // What a flag V8 does not know does: the check above can fail.
  assert.match(
    stderrOf(
      `import { setFlagsFromString } from 'node:v8'; setFlagsFromString('--no-such-flag-here=1');`,
    ),
    /unrecognized flag/,
  );
});
