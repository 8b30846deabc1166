// The S3 server of the end-to-end test, standing in for MinIO (whose image
// cannot be pulled on the test machines): s3rver, a third-party S3-compatible
// server, listening on MinIO's port 9000 with MinIO's root credentials
// (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD) as its access key pair.
import { createRequire } from 'node:module';
import S3rver from 's3rver';

const require = createRequire(import.meta.url);
const account = require('s3rver/lib/models/account.js') as {
  DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
};
const user = process.env.MINIO_ROOT_USER;
const password = process.env.MINIO_ROOT_PASSWORD;
if (!user || !password) {
  console.error('s3rver-minio: MINIO_ROOT_USER and MINIO_ROOT_PASSWORD are required');
  process.exit(2);
}
account.DUMMY_ACCOUNT.createKeyPair(user, password);
const server = new S3rver({
  address: '0.0.0.0',
  port: 9000,
  directory: process.argv[2] ?? '/data',
  silent: true,
  resetOnClose: false,
  allowMismatchedSignatures: false,
  // Requests name the server by its service name (http://minio:9000), which
  // s3rver would otherwise take for a virtual-host bucket name.
  vhostBuckets: false,
});
await server.run();
console.log('s3rver-minio: listening on :9000');
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
