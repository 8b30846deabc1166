// Issue 12 §4, "apps are not kept apart": the real monitor, the real engine
// and the real apps firewall (decision 0055). App A probes, from inside its
// container, everything an app must not reach; destinations beyond the host
// live in a network namespace routed like the internet (test/support/outside-world.ts),
// so "blocked" (host unreachable) is told apart from "nothing there" (refused).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { packGreeting } from './support/deps-app.ts';
import { containersOf, docker } from './support/docker.ts';
import { ensureImages } from './support/images.ts';
import { writeNodeServer } from './support/node-app.ts';
import { OutsideWorld } from './support/outside-world.ts';
import { TCP_PROBE_SOURCE } from './support/tcp-probe.ts';
import { TestMonitor } from './support/test-monitor.ts';
import { eventually } from './support/watch-process.ts';

const run = promisify(execFile);

/**
 * App A: answers `/probe?host=&port=` with what a TCP connection there gives
 * (`open`, or the error code), `/udp?host=&port=` with the reply to a datagram,
 * `/get?url=` with the status and body of an HTTP GET.
 */
const PROBE_APP = `
const http = require('node:http');
const dgram = require('node:dgram');
${TCP_PROBE_SOURCE}
const udp = (host, port) => new Promise((done) => {
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => { s.close(); done('no reply'); }, 20000);
  s.on('message', (m) => { clearTimeout(t); s.close(); done(String(m)); });
  s.on('error', (e) => { clearTimeout(t); s.close(); done(e.code || e.message); });
  s.send('ping', Number(port), host);
});
http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://x');
  const q = Object.fromEntries(u.searchParams);
  let out = 'alpha';
  if (u.pathname === '/probe') out = await probe(q.host, q.port);
  if (u.pathname === '/udp') out = await udp(q.host, q.port);
  if (u.pathname === '/get') {
    out = await fetch(q.url).then(async (r) => r.status + ' ' + (await r.text()), (e) => e.cause?.code || e.message);
  }
  res.end(out);
}).listen(Number(process.env.PORT));
`;

/** What app A gets when it tries this from inside its container (asked through the monitor's proxy). */
async function askAlpha(
  m: TestMonitor,
  what: string,
  query: Record<string, string>,
): Promise<string> {
  const res = await fetch(`${m.base}/alpha/${what}?${new URLSearchParams(query).toString()}`);
  assert.equal(res.status, 200, `${what} ${JSON.stringify(query)} through the proxy`);
  return res.text();
}

/**
 * Alpha (the probe) and beta in the monitor's workspaces, started, both
 * answering; `more` writes other workspaces before the monitor starts.
 */
async function startTwoApps(m: TestMonitor, more?: () => Promise<void>): Promise<void> {
  await m.init();
  await more?.();
  await writeNodeServer(path.join(m.workspaces, 'alpha'), PROBE_APP);
  await writeNodeServer(
    path.join(m.workspaces, 'beta'),
    "require('node:http').createServer((q, s) => s.end('beta')).listen(Number(process.env.PORT));",
  );
  await m.start();
  await eventually(
    'alpha and beta answer through the proxy',
    async () =>
      (await m.appText('alpha')) === '200 alpha' && (await m.appText('beta')) === '200 beta',
    120_000,
  );
}

/**
 * A package registry on the outside world's internet address with one
 * package, greeting@1.0.0 (what `npm install` asks for: its packument and
 * its tarball), and the workspace `gamma` that installs it from there.
 */
async function writeRegistryApp(dir: string, outside: OutsideWorld): Promise<void> {
  const registry = `http://${outside.internet}/`;
  const tarball = 'tarballs/greeting-1.0.0.tgz';
  const dist = await packGreeting(path.join(outside.files, tarball), 'installed from');
  await writeFile(
    path.join(outside.files, 'greeting'),
    JSON.stringify({
      name: 'greeting',
      'dist-tags': { latest: '1.0.0' },
      versions: {
        '1.0.0': {
          name: 'greeting',
          version: '1.0.0',
          main: 'index.js',
          dist: { ...dist, tarball: `${registry}${tarball}` },
        },
      },
    }),
  );
  await writeNodeServer(
    dir,
    "const greet = require('greeting');\n" +
      `require('node:http').createServer((q, s) => s.end(greet(${JSON.stringify(registry)}))).listen(Number(process.env.PORT));\n`,
  );
  const manifest = path.join(dir, 'package.json');
  await writeFile(
    manifest,
    JSON.stringify({
      ...(JSON.parse(await readFile(manifest, 'utf8')) as object),
      dependencies: { greeting: '1.0.0' },
    }),
  );
  await writeFile(
    path.join(dir, '.npmrc'),
    `registry=${registry}\naudit=false\nfund=false\nupdate-notifier=false\n`,
  );
}

/** The address of this host that its default route leaves from (not a Docker bridge). */
async function hostAddress(): Promise<string> {
  const { stdout } = await run('ip', ['-4', 'route', 'get', '203.0.113.1']);
  const m = / src (\S+)/.exec(stdout);
  assert.ok(m?.[1] !== undefined, `no source address in: ${stdout}`);
  return m[1];
}

describe('apps are kept apart', { timeout: 600_000 }, () => {
  // Both ports on every address, as the monitor's container has them in Compose.
  const m = new TestMonitor(() => ({ MONITOR_HOST: '0.0.0.0', MONITOR_ADMIN_HOST: '0.0.0.0' }));
  const outside = new OutsideWorld();
  let hostListener: Server | undefined;
  let hostPort = 0;
  let gateway = '';
  let betaIp = '';
  let appsPort = '';
  let adminPort = '';

  const fromAlpha = (what: string, query: Record<string, string>) => askAlpha(m, what, query);
  const probe = (host: string, port: number | string) =>
    fromAlpha('probe', { host, port: String(port) });

  before(async () => {
    await ensureImages(['runtime-node']);
    await outside.start();
    hostListener = createServer((s) => s.end('host'));
    await new Promise<void>((r) => hostListener?.listen(0, '0.0.0.0', r));
    const address = hostListener.address();
    hostPort = typeof address === 'object' && address !== null ? address.port : 0;
    await startTwoApps(m, () => writeRegistryApp(path.join(m.workspaces, 'gamma'), outside));
    const net = await docker.getNetwork(m.network).inspect();
    gateway = String(net.IPAM?.Config?.[0]?.Gateway);
    const beta = (await containersOf(m.managedBy)).find(
      (c) => c.Labels['bucketspace.workspace'] === 'beta',
    );
    betaIp = String(beta?.NetworkSettings.Networks[m.network]?.IPAddress);
    appsPort = new URL(m.base).port;
    adminPort = new URL(m.admin).port;
  });

  after(async () => {
    await m.close();
    hostListener?.close();
    await outside.stop();
  });

  test('the monitor put the firewall in place and still proxies to both apps', async () => {
    const health = (await (await fetch(`${m.admin}/healthz`)).json()) as { isolation: string };
    assert.equal(health.isolation, 'on');
    const status = (await (await m.api('/api/status')).json()) as {
      status: { isolation: string; isolationReason: string };
    };
    assert.match(
      status.status.isolationReason,
      /^chains BS-[0-9a-f]{8}-FWD and BS-[0-9a-f]{8}-IN for bridge br-/,
    );
    assert.equal(await m.appText('alpha'), '200 alpha');
    assert.equal(await m.appText('beta'), '200 beta');
  });

  test('apps are not kept apart: app A cannot reach app B, by name or by IP', async () => {
    assert.match(betaIp, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(await probe('beta', 3000), 'EHOSTUNREACH');
    assert.equal(await probe(betaIp, 3000), 'EHOSTUNREACH');
  });

  test('apps are not kept apart: app A cannot reach the host (gateway or its own address), the admin port or the apps port', async () => {
    const host = await hostAddress();
    // The listener is there: the host itself reaches it.
    assert.equal(await connectFromHere(host, hostPort), 'open');
    assert.equal(await probe(gateway, hostPort), 'EHOSTUNREACH');
    assert.equal(await probe(host, hostPort), 'EHOSTUNREACH');
    assert.equal(await probe(gateway, adminPort), 'EHOSTUNREACH');
    assert.equal(await probe(gateway, appsPort), 'EHOSTUNREACH');
  });

  test('apps are not kept apart: app A cannot reach 169.254.169.254 or a private LAN address; the host can', async () => {
    assert.equal(
      await (await fetch(`http://${outside.metadata}/`)).text(),
      `outside ${outside.metadata}`,
    );
    assert.equal(await (await fetch(`http://${outside.lan}/`)).text(), `outside ${outside.lan}`);
    assert.equal(await probe(outside.metadata, 80), 'EHOSTUNREACH');
    assert.equal(await probe(outside.lan, 80), 'EHOSTUNREACH');
  });

  test('app A still reaches the internet, and DNS on a private resolver', async () => {
    assert.equal(
      await fromAlpha('get', { url: `http://${outside.internet}/` }),
      `200 outside ${outside.internet}`,
    );
    // Nothing listens there: refused, not blocked.
    assert.equal(await probe(outside.internet, 81), 'ECONNREFUSED');
    // Docker's resolver asks the host's resolvers from the app's namespace, often at a private address.
    assert.equal(await fromAlpha('udp', { host: outside.lan, port: '53' }), 'dns ping');
  });

  test('npm install keeps working: an app installs its dependency from a registry on the internet', async () => {
    await eventually(
      'gamma answers with its installed dependency',
      async () => (await m.appText('gamma')) === `200 installed from http://${outside.internet}/`,
      120_000,
    );
    const deploy = (await m.view('gamma')).deploy as { dependencies: string } | null;
    assert.equal(deploy?.dependencies, 'installed');
  });
});

describe(
  'apps are kept apart from a monitor in a container on their network (as in Compose)',
  {
    timeout: 600_000,
  },
  () => {
    const m = new TestMonitor(() => ({}), { inContainer: true });

    before(async () => {
      await ensureImages(['runtime-node']);
      await startTwoApps(m);
    });

    after(() => m.close());

    test('the monitor, at its own address on the network, still proxies to both apps', async () => {
      const monitorIp = new URL(m.base).hostname;
      const status = (await (await m.api('/api/status')).json()) as {
        status: { isolation: string; isolationReason: string };
      };
      assert.equal(status.status.isolation, 'on');
      assert.match(
        status.status.isolationReason,
        new RegExp(`; the monitor at ${monitorIp.replaceAll('.', '\\.')}$`),
      );
      assert.equal(await m.appText('alpha'), '200 alpha');
      assert.equal(await m.appText('beta'), '200 beta');
    });

    test("apps are not kept apart: app A cannot reach the monitor's admin or apps port, or app B", async () => {
      const monitorIp = new URL(m.base).hostname;
      const probe = (host: string, port: string | number) =>
        askAlpha(m, 'probe', { host, port: String(port) });
      assert.equal(await probe(monitorIp, new URL(m.admin).port), 'EHOSTUNREACH');
      assert.equal(await probe(monitorIp, new URL(m.base).port), 'EHOSTUNREACH');
      assert.equal(await probe('beta', 3000), 'EHOSTUNREACH');
    });
  },
);

describe('apps are not started when they cannot be kept apart', { timeout: 300_000 }, () => {
  const m = new TestMonitor(() => ({
    RUNTIME_FIREWALL_IMAGE: 'bucketspace/no-such-firewall:latest',
  }));

  after(() => m.close());

  test('a missing firewall image: nothing starts, the dashboard, the API and /healthz say why', async () => {
    await m.init();
    await writeNodeServer(path.join(m.workspaces, 'alpha'), PROBE_APP);
    await m.start();
    await eventually('alpha shows why it is not started', async () => {
      const v = await m.view('alpha');
      return v.state === 'error';
    });
    assert.equal(
      (await m.view('alpha')).message,
      'not started: the apps would not be kept apart (the firewall image bucketspace/no-such-firewall:latest ' +
        'is missing: build it (scripts/build-local-images.sh apps-firewall, or docker compose build) or set ' +
        'RUNTIME_FIREWALL_IMAGE); fix that, or set RUNTIME_ISOLATION=off to run them without the firewall',
    );
    const health = await fetch(`${m.admin}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { isolation: string }).isolation, 'failed');
    assert.equal((await containersOf(m.managedBy)).length, 0);
    assert.equal(
      m
        .lines()
        .filter((l) => l.msg === 'apps firewall failed: no new container starts until it works')
        .length,
      1,
      'said once',
    );
  });
});

/** Connect from this process: `open`, or the error code. */
function connectFromHere(host: string, port: number): Promise<string> {
  return new Promise((done) => {
    const s = connect({ host, port });
    s.on('connect', () => {
      s.end();
      done('open');
    });
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}
