// The apps firewall image (images/apps-firewall) on its own: what it touches
// on the host's iptables and what it refuses, for bridges that need not exist.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildAppFirewall } from '../services/monitor/isolation/firewall-rules.ts';
import { ensureImages } from './support/images.ts';

const run = promisify(execFile);

/** Run the image as the monitor does; its exit code and output. */
async function firewall(
  mode: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  const args = ['run', '--rm', '--network', 'host', '--cap-drop', 'ALL'];
  args.push('--cap-add', 'NET_ADMIN', '--cap-add', 'NET_RAW', '--read-only', '--tmpfs', '/run');
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  try {
    const { stdout, stderr } = await run('docker', [
      ...args,
      'bucketspace/apps-firewall:latest',
      mode,
    ]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

/** The host's rules, as `iptables -S` prints them: of one chain, or of every chain. */
async function rules(chain?: string): Promise<string[]> {
  const { stdout } = await run('iptables', ['-w', '-S', ...(chain === undefined ? [] : [chain])]);
  return stdout.trim().split('\n');
}

/**
 * The rules of the chains the image puts its jumps in, but the jumps to any
 * BS-* chain: Docker leaves both chains alone, and the apps firewalls other
 * tests apply meanwhile (tests run side by side) only add and remove such
 * jumps. What is left must never change.
 */
async function parents(): Promise<string[]> {
  return [...(await rules('DOCKER-USER')), ...(await rules('INPUT'))].filter(
    (l) => !/ -j BS-/.test(l),
  );
}

describe('the apps firewall image', { timeout: 300_000 }, () => {
  const network = `bs-fw-image-${randomBytes(3).toString('hex')}`;
  const envFor = (bridge: string) => {
    const fw = buildAppFirewall({ network, bridge, trusted: ['172.31.9.2'], allow: [] });
    return {
      fw,
      env: {
        FIREWALL_CHAINS: `${fw.chains.forward} ${fw.chains.input}`,
        FIREWALL_RULES: fw.restore,
        FIREWALL_JUMPS: fw.jumps.join('\n'),
      },
    };
  };
  const { fw } = envFor('br-unused0');
  const jumpsToUs = async () =>
    (await rules()).filter(
      (l) => l.endsWith(`-j ${fw.chains.forward}`) || l.endsWith(`-j ${fw.chains.input}`),
    );

  before(() => ensureImages(['apps-firewall']));

  after(async () => {
    await firewall('remove', { FIREWALL_CHAINS: `${fw.chains.forward} ${fw.chains.input}` });
  });

  test('refuses to touch a chain that is not one of ours', async () => {
    const before = await parents();
    const res = await firewall('remove', { FIREWALL_CHAINS: 'DOCKER-USER' });
    assert.equal(res.code, 64);
    assert.match(res.output, /refusing to touch chain 'DOCKER-USER': only BS-\* chains are ours/);
    assert.deepEqual(await parents(), before);
  });

  test('apply loads the chains and puts each jump first, once, however often it runs', async () => {
    const { env } = envFor('br-unused0');
    for (let i = 0; i < 2; i += 1) {
      const res = await firewall('apply', env);
      assert.equal(res.code, 0, res.output);
    }
    assert.equal(
      (await rules('DOCKER-USER'))[1],
      `-A DOCKER-USER -i br-unused0 -j ${fw.chains.forward}`,
    );
    assert.equal((await rules('INPUT')).filter((l) => l.includes(fw.chains.input)).length, 1);
    assert.deepEqual((await jumpsToUs()).sort(), [
      `-A DOCKER-USER -i br-unused0 -j ${fw.chains.forward}`,
      `-A INPUT -i br-unused0 -j ${fw.chains.input}`,
    ]);
    const forward = await rules(fw.chains.forward);
    assert.ok(
      forward.includes(
        `-A ${fw.chains.forward} -s 172.31.9.2/32 -m comment --comment "the monitor" -j ACCEPT`,
      ),
      forward.join('\n'),
    );
    assert.ok(
      forward.some(
        (l) =>
          l.startsWith(`-A ${fw.chains.forward} -d 169.254.0.0/16 `) &&
          l.endsWith('-j REJECT --reject-with icmp-admin-prohibited'),
      ),
    );
  });

  test('a new bridge (the network was recreated): its jumps replace the old ones', async () => {
    const res = await firewall('apply', envFor('br-unused1').env);
    assert.equal(res.code, 0, res.output);
    assert.deepEqual((await jumpsToUs()).sort(), [
      `-A DOCKER-USER -i br-unused1 -j ${fw.chains.forward}`,
      `-A INPUT -i br-unused1 -j ${fw.chains.input}`,
    ]);
  });

  test('remove takes away the jumps and the chains, and nothing else', async () => {
    const others = await parents();
    const res = await firewall('remove', {
      FIREWALL_CHAINS: `${fw.chains.forward} ${fw.chains.input}`,
    });
    assert.equal(res.code, 0, res.output);
    assert.deepEqual(await jumpsToUs(), []);
    assert.deepEqual(await parents(), others);
    assert.ok(!(await rules()).some((l) => l.includes(fw.chains.forward)));
  });
});
