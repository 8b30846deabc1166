// Runs s3rver (a real, third-party S3-compatible server) as a child process for
// tests and benchmarks. Needs --openssl-legacy-provider (its continuation-token
// cipher). Prints `listening <port>` on stdout once it accepts connections.
import S3rver from 's3rver';

const [directory, portArg, address] = process.argv.slice(2);
if (!directory) {
  console.error('usage: s3rver-process.ts <directory> [port] [address]');
  process.exit(2);
}
const server = new S3rver({
  address: address ?? '127.0.0.1',
  port: Number(portArg ?? 0),
  directory,
  silent: true,
  resetOnClose: false,
  allowMismatchedSignatures: false,
});
const { port } = (await server.run()) as { port: number };
console.log(`listening ${port}`);
const stop = () => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
