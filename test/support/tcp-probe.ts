import { docker } from './docker-cli.ts';

/**
 * Node source of `probe(host, port)`: what a TCP connection there gives,
 * `open` or the error code (EHOSTUNREACH: the apps firewall said no;
 * ECONNREFUSED: nothing listens). Run inside an app's container.
 */
export const TCP_PROBE_SOURCE = `
const probe = (host, port) => new Promise((done) => {
  const s = require('node:net').connect({ host, port: Number(port) });
  s.setTimeout(20000, () => { s.destroy(); done('timeout'); });
  s.on('connect', () => { s.end(); done('open'); });
  s.on('error', (e) => done(e.code || e.message));
});
`;

/** Probe each `host:port` from inside a running container that has `node` (docker exec). */
export async function probeFromContainer(
  container: string,
  targets: readonly string[],
): Promise<Record<string, string>> {
  const script =
    TCP_PROBE_SOURCE +
    'const targets = JSON.parse(process.argv[1]);\n' +
    'Promise.all(targets.map((t) => probe(t.slice(0, t.lastIndexOf(":")), t.slice(t.lastIndexOf(":") + 1))))\n' +
    '  .then((r) => console.log(JSON.stringify(Object.fromEntries(targets.map((t, i) => [t, r[i]])))));\n';
  const out = await docker(['exec', container, 'node', '-e', script, JSON.stringify(targets)]);
  return JSON.parse(out) as Record<string, string>;
}
