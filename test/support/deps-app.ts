import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The package `greeting@1.0.0` (`require('greeting')(s)` is `<greeting> <s>`),
 * packed as npm packs it into `tarball`; its integrity and shasum, as a
 * registry or a lock file gives them.
 */
export async function packGreeting(
  tarball: string,
  greeting: string,
): Promise<{ integrity: string; shasum: string }> {
  const work = `${tarball}.pack`;
  const pkgDir = path.join(work, 'package');
  await mkdir(pkgDir, { recursive: true });
  await mkdir(path.dirname(tarball), { recursive: true });
  await writeFile(
    path.join(pkgDir, 'package.json'),
    JSON.stringify({ name: 'greeting', version: '1.0.0', main: 'index.js' }),
  );
  await writeFile(
    path.join(pkgDir, 'index.js'),
    `module.exports = (s) => ${JSON.stringify(greeting)} + ' ' + s;\n`,
  );
  await execFileAsync('tar', ['-C', work, '-czf', tarball, 'package']);
  await rm(work, { recursive: true });
  const body = await readFile(tarball);
  return {
    integrity: `sha512-${createHash('sha512').update(body).digest('base64')}`,
    shasum: createHash('sha1').update(body).digest('hex'),
  };
}

/**
 * A Node app with a real dependency to install: a package in a vendored tarball
 * (`file:`), locked in package-lock.json, so `npm ci` installs it with no registry.
 */
export async function writeDepsApp(
  dir: string,
  options: { greeting: string; message: string },
): Promise<void> {
  // Not vendor/: the sync's default excludes leave that out of the bucket.
  const { integrity } = await packGreeting(
    path.join(dir, 'packages', 'greeting-1.0.0.tgz'),
    options.greeting,
  );
  const spec = 'file:packages/greeting-1.0.0.tgz';
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: 'deps-app',
      version: '1.0.0',
      private: true,
      scripts: { start: 'node server.js' },
      dependencies: { greeting: spec },
    }),
  );
  await writeFile(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({
      name: 'deps-app',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'deps-app', version: '1.0.0', dependencies: { greeting: spec } },
        'node_modules/greeting': { version: '1.0.0', resolved: spec, integrity },
      },
    }),
  );
  await writeFile(
    path.join(dir, 'server.js'),
    `const greet = require('greeting');
const fs = require('node:fs');
require('node:http').createServer((req, res) => {
  res.end(greet(fs.readFileSync(__dirname + '/message.txt', 'utf8').trim()));
}).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
  );
  await writeFile(path.join(dir, 'message.txt'), options.message);
}
