import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/**
 * A real S3 API for integration tests: s3rver in a child process by default,
 * or any S3/MinIO when S3_TEST_ENDPOINT (+ S3_TEST_ACCESS_KEY_ID,
 * S3_TEST_SECRET_ACCESS_KEY, optional S3_TEST_REGION) is set.
 */
export interface TestS3 {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** True for the in-process s3rver (which can be stopped and restarted). */
  local: boolean;
  /** A fresh bucket name for one test. */
  newBucketName(): string;
  /** Environment variables for the bucketspace CLI, pointing at this server. */
  env(bucket: string): Record<string, string>;
  /** Simulate an outage (s3rver only). */
  stop(): Promise<void>;
  /** Bring it back on the same port with the same data (s3rver only). */
  start(): Promise<void>;
  close(): Promise<void>;
}

const PROCESS_SCRIPT = fileURLToPath(new URL('./s3rver-process.ts', import.meta.url));

export interface StartTestS3Options {
  /**
   * Address s3rver listens on (default 127.0.0.1). Containers reach the host
   * through their Docker network's gateway address: pass that.
   */
  address?: string;
}

export async function startTestS3(options: StartTestS3Options = {}): Promise<TestS3> {
  const external = process.env.S3_TEST_ENDPOINT;
  const newBucketName = () => `bs-test-${randomBytes(5).toString('hex')}`;
  if (external) {
    const region = process.env.S3_TEST_REGION ?? 'us-east-1';
    const accessKeyId = process.env.S3_TEST_ACCESS_KEY_ID ?? '';
    const secretAccessKey = process.env.S3_TEST_SECRET_ACCESS_KEY ?? '';
    return {
      endpoint: external,
      region,
      accessKeyId,
      secretAccessKey,
      local: false,
      newBucketName,
      env: (bucket) => envFor(external, region, accessKeyId, secretAccessKey, bucket),
      stop: () => Promise.reject(new Error('cannot stop an external S3 server')),
      start: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
  }
  const address = options.address ?? '127.0.0.1';
  const directory = await mkdtemp(join(tmpdir(), 'bucketspace-s3rver-'));
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async () => {
    const proc = spawn(
      process.execPath,
      ['--openssl-legacy-provider', PROCESS_SCRIPT, directory, String(port), address],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    child = proc;
    let buffered = '';
    proc.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: string) => {
        buffered += chunk;
        const m = /listening (\d+)/.exec(buffered);
        if (m) {
          port = Number(m[1]);
          proc.stdout.off('data', onData);
          resolve();
        }
      };
      proc.stdout.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`s3rver exited early with code ${code}`)));
    });
  };
  await launch();
  const endpoint = () => `http://${address}:${port}`;
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    child = undefined;
  };
  return {
    get endpoint() {
      return endpoint();
    },
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    local: true,
    newBucketName,
    env: (bucket) => envFor(endpoint(), 'us-east-1', 'S3RVER', 'S3RVER', bucket),
    stop,
    start: launch,
    close: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function envFor(
  endpoint: string,
  region: string,
  accessKeyId: string,
  secretAccessKey: string,
  bucket: string,
): Record<string, string> {
  return {
    S3_ENDPOINT: endpoint,
    S3_REGION: region,
    S3_ACCESS_KEY_ID: accessKeyId,
    S3_SECRET_ACCESS_KEY: secretAccessKey,
    S3_BUCKET: bucket,
  };
}
