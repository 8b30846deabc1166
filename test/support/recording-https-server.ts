import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RecordedRequest {
  path: string;
  userAgent: string;
}

/**
 * An HTTPS server whose certificate is signed by a throwaway CA (made with the
 * openssl CLI), like a registry behind a TLS-intercepting proxy. It answers
 * 200 `{}` to paths containing "ping" and 404 to the rest, and records every
 * request: a client that does not trust the CA never gets as far as a request.
 */
export interface RecordingHttpsServer {
  url: string;
  /** Path of the CA certificate (PEM). */
  caFile: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingHttpsServer(address: string): Promise<RecordingHttpsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-tls-'));
  const p = (name: string) => join(dir, name);
  const subj = `/CN=bucketspace-test-ca-${Date.now()}`;
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', subj,
    '-keyout', p('ca.key'), '-out', p('ca.pem'),
  ]); // prettier-ignore
  await run('openssl', [
    'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${address}`,
    '-keyout', p('server.key'), '-out', p('server.csr'),
  ]); // prettier-ignore
  await writeFile(p('ext.cnf'), `subjectAltName=IP:${address}\nbasicConstraints=CA:FALSE\n`);
  await run('openssl', [
    'x509', '-req', '-days', '2', '-in', p('server.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
    '-CAcreateserial', '-extfile', p('ext.cnf'), '-out', p('server.pem'),
  ]); // prettier-ignore
  const requests: RecordedRequest[] = [];
  const server = createServer(
    { key: await readFile(p('server.key')), cert: await readFile(p('server.pem')) },
    (req, res) => {
      const path = req.url ?? '/';
      requests.push({ path, userAgent: req.headers['user-agent'] ?? '' });
      res.statusCode = path.includes('ping') ? 200 : 404;
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${address}:${port}`,
    caFile: p('ca.pem'),
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
