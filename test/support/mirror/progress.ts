// Downloads s3://<bucket>/<prefix> with the mirror's progress bars on (the
// default), run as a child process by the mirror tests, on a terminal or a pipe:
//   node progress.ts <bucket> <prefix> <cacheRoot> [--no-progress]
import { mirror } from '../../../services/mirror/index.ts';

const [bucket = '', prefix = '', cacheRoot = '', flag] = process.argv.slice(2);
await using m = await mirror({ cacheRoot, showProgress: flag !== '--no-progress' });
process.stdout.write(`${await m.download(`s3://${bucket}/${prefix}`)}\n`);
