// A training-like pipeline, run as a child process by the mirror tests:
//   node pipeline.ts <bucket> <cacheRoot> <lastStep> <intervalMs>
// It reads its dataset, resumes after the newest checkpoint it finds in
// s3://<bucket>/run/ckpt, writes one checkpoint per step (a temporary file,
// then renamed) and keeps them uploaded in the background. S3 settings come
// from the environment (S3_ENDPOINT, ...). Prints `resume <step>` and `step <n>`.
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withMirror } from '../../../services/mirror/index.ts';

const [bucket = '', cacheRoot = '', last = '0', interval = '100'] = process.argv.slice(2);

await withMirror({ cacheRoot, showProgress: false }, async (m) => {
  const data = await m.download(`s3://${bucket}/run/data`);
  const input = await readFile(join(data, 'input.txt'), 'utf8');
  const ckpt = await m.sync(`s3://${bucket}/run/ckpt`, {
    interval: Number(interval),
    deleteRemote: false,
    exclude: ['*.partial'],
  });
  const done = (await readdir(ckpt)).flatMap((name) => {
    const m = /^step-(\d+)$/.exec(name);
    return m ? [Number(m[1])] : [];
  });
  let step = done.length > 0 ? Math.max(...done) + 1 : 1;
  process.stdout.write(`resume ${step}\n`);
  for (; step <= Number(last); step++) {
    const partial = join(ckpt, `step-${step}.partial`);
    await writeFile(partial, `checkpoint ${step} of ${input}`);
    await rename(partial, join(ckpt, `step-${step}`));
    process.stdout.write(`step ${step}\n`);
    await sleep(10); // the work of one step
  }
});
