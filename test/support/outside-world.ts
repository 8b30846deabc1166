import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ip = (...args: string[]) => run('ip', args);

/**
 * What answers in the outside world, on each address given after the files
 * directory: HTTP on port 80 (a file of that directory at its path, else
 * `outside <address>`) and a UDP echo on port 53 (one socket per address, so
 * a reply leaves from the address the datagram was sent to).
 */
const LISTENERS = `
const http = require('node:http');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');
const [files, ...addresses] = process.argv.slice(1);
let pending = addresses.length * 2;
const ready = () => { pending -= 1; if (pending === 0) console.log('listening'); };
const answer = (req, res) => {
  const file = path.join(files, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  fs.readFile(file, (err, body) => res.end(err ? 'outside ' + req.socket.localAddress : body));
};
for (const address of addresses) {
  http.createServer(answer).listen(80, address, ready);
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, from) => udp.send('dns ' + msg, from.port, from.address));
  udp.bind(53, address, ready);
}
`;

/**
 * Hosts beyond this machine, in a network namespace of their own routed from
 * the host like the rest of the world: an internet address (TEST-NET-2,
 * 198.51.100.0/24, public as far as the apps firewall knows), the cloud
 * metadata address 169.254.169.254 and a private LAN address. Each answers
 * HTTP on port 80 and DNS-like UDP on port 53, so a test can tell a blocked
 * destination (host unreachable) from one where nothing listens (refused).
 * Files written under `files` are served at their path (a package registry,
 * say). Needs root. The routes exist only while it runs.
 */
export class OutsideWorld {
  readonly #id = randomBytes(3).toString('hex');
  readonly netns = `bs-outside-${this.#id}`;
  readonly #hostSide = `bso${this.#id}h`;
  readonly #nsSide = `bso${this.#id}n`;
  internet = '';
  readonly metadata = '169.254.169.254';
  lan = '';
  /** A directory whose files every address serves over HTTP at their path. */
  files = '';
  #gateway = '';
  #listeners: ChildProcess | undefined;
  #routes: string[] = [];

  async start(): Promise<void> {
    const block = await freeBlock();
    this.#gateway = `198.51.100.${block + 1}`;
    this.internet = `198.51.100.${block + 2}`;
    this.lan = `10.213.${randomInt(0, 256)}.${randomInt(2, 254)}`;
    if ((await ip('route', 'show', 'exact', `${this.metadata}/32`)).stdout.trim() !== '') {
      throw new Error(`a route to ${this.metadata} exists already; the outside world needs it`);
    }
    await ip('netns', 'add', this.netns);
    await ip('link', 'add', this.#hostSide, 'type', 'veth', 'peer', 'name', this.#nsSide);
    await ip('link', 'set', this.#nsSide, 'netns', this.netns);
    await ip('addr', 'add', `${this.#gateway}/30`, 'dev', this.#hostSide);
    await ip('link', 'set', this.#hostSide, 'up');
    const inNs = (...args: string[]) => ip('-n', this.netns, ...args);
    await inNs('link', 'set', 'lo', 'up');
    await inNs('addr', 'add', `${this.internet}/30`, 'dev', this.#nsSide);
    await inNs('addr', 'add', `${this.metadata}/32`, 'dev', this.#nsSide);
    await inNs('addr', 'add', `${this.lan}/32`, 'dev', this.#nsSide);
    await inNs('link', 'set', this.#nsSide, 'up');
    await inNs('route', 'add', 'default', 'via', this.#gateway);
    for (const address of [this.metadata, this.lan]) {
      await ip('route', 'add', `${address}/32`, 'dev', this.#hostSide, 'src', this.#gateway);
      this.#routes.push(`${address}/32`);
    }
    this.files = await mkdtemp(path.join(tmpdir(), 'bucketspace-outside-'));
    const args = ['netns', 'exec', this.netns, process.execPath, '-e', LISTENERS, this.files];
    const child = spawn('ip', [...args, this.internet, this.metadata, this.lan], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.#listeners = child;
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    while (!out.includes('listening')) {
      if (child.exitCode !== null) throw new Error('the outside world listeners exited');
      await once(child.stdout, 'data');
    }
  }

  async stop(): Promise<void> {
    if (this.#listeners !== undefined && this.#listeners.exitCode === null) {
      this.#listeners.kill('SIGTERM');
      await once(this.#listeners, 'exit');
    }
    for (const route of this.#routes) await ip('route', 'del', route).catch(() => undefined);
    await ip('link', 'del', this.#hostSide).catch(() => undefined);
    await ip('netns', 'del', this.netns).catch(() => undefined);
    if (this.files !== '') await rm(this.files, { recursive: true, force: true });
  }
}

/** A /30 of TEST-NET-2 no route of this host covers more precisely than the default one. */
async function freeBlock(): Promise<number> {
  const routes = (await ip('-4', 'route', 'show')).stdout;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const block = randomInt(0, 64) * 4;
    if (!routes.includes(`198.51.100.${block}`)) return block;
  }
  throw new Error('no free /30 in 198.51.100.0/24');
}
