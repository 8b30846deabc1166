import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkInfo } from '../containers/types.ts';
import { firewallProblem, trustedAddresses } from './apps-network.ts';
import {
  allowedText,
  buildAppFirewall,
  firewallChains,
  parseAllowedDestination,
} from './firewall-rules.ts';
import { inCidr, parseCidr } from './ipv4.ts';

test('CIDRs: host bits cleared, single addresses are /32, anything else is refused', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8'), { address: '10.0.0.0', prefix: 8 });
  assert.deepEqual(parseCidr('192.168.1.7'), { address: '192.168.1.7', prefix: 32 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', prefix: 0 });
  for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/8', '10.0.0.0/8/1', 'db', '10.0.0.0/']) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
  const docker = parseCidr('172.16.0.0/12');
  assert.ok(docker !== undefined);
  assert.ok(inCidr('172.31.255.254', docker));
  assert.ok(!inCidr('172.32.0.1', docker));
  assert.ok(!inCidr('fd00::1', docker));
});

test('RUNTIME_NETWORK_ALLOW entries: an address or network, maybe one TCP port', () => {
  const db = parseAllowedDestination('10.0.0.5:5432');
  assert.deepEqual(db, { cidr: { address: '10.0.0.5', prefix: 32 }, port: 5432 });
  assert.ok(db !== undefined);
  assert.equal(allowedText(db), '10.0.0.5/32:5432');
  assert.deepEqual(parseAllowedDestination(' 192.168.1.0/24 '), {
    cidr: { address: '192.168.1.0', prefix: 24 },
    port: undefined,
  });
  for (const bad of ['10.0.0.5:0', '10.0.0.5:70000', 'db:5432', '10.0.0.5:', '::1']) {
    assert.equal(parseAllowedDestination(bad), undefined, bad);
  }
});

test('the chains are named after the network, short enough for iptables', () => {
  const a = firewallChains('bucketspace-apps');
  assert.match(a.forward, /^BS-[0-9a-f]{8}-FWD$/);
  assert.match(a.input, /^BS-[0-9a-f]{8}-IN$/);
  assert.ok(a.forward.length <= 28);
  assert.notEqual(firewallChains('other-apps').forward, a.forward);
  assert.deepEqual(firewallChains('bucketspace-apps'), a);
});

/** The rules of one chain, in order, without the chain name and comments. */
function rulesOf(restore: string, chain: string): string[] {
  return restore
    .split('\n')
    .filter((l) => l.startsWith(`-A ${chain} `))
    .map((l) =>
      l
        .slice(`-A ${chain} `.length)
        .replace(/-m comment --comment "[^"]*" ?/, '')
        .replace('  ', ' ')
        .replace('--reject-with icmp-admin-prohibited', 'PROHIBITED'),
    );
}

test('the rules: replies, the monitor, no other app, allowed and DNS, no private range; the host closed', () => {
  const fw = buildAppFirewall({
    network: 'bucketspace-apps',
    bridge: 'br-0123456789ab',
    trusted: ['172.20.0.2'],
    allow: [{ cidr: { address: '10.0.0.5', prefix: 32 }, port: 5432 }],
  });
  const { forward, input } = fw.chains;
  assert.deepEqual(fw.jumps, [
    `DOCKER-USER -i br-0123456789ab -j ${forward}`,
    `INPUT -i br-0123456789ab -j ${input}`,
  ]);
  assert.ok(fw.restore.startsWith(`*filter\n:${forward} - [0:0]\n:${input} - [0:0]\n`));
  assert.ok(fw.restore.endsWith('COMMIT\n'));
  assert.deepEqual(rulesOf(fw.restore, forward), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-s 172.20.0.2/32 -j ACCEPT',
    '-o br-0123456789ab -j REJECT PROHIBITED',
    '-d 10.0.0.5/32 -p tcp -m tcp --dport 5432 -j RETURN',
    '-p udp -m udp --dport 53 -j RETURN',
    '-p tcp -m tcp --dport 53 -j RETURN',
    '-d 0.0.0.0/8 -j REJECT PROHIBITED',
    '-d 10.0.0.0/8 -j REJECT PROHIBITED',
    '-d 100.64.0.0/10 -j REJECT PROHIBITED',
    '-d 127.0.0.0/8 -j REJECT PROHIBITED',
    '-d 169.254.0.0/16 -j REJECT PROHIBITED',
    '-d 172.16.0.0/12 -j REJECT PROHIBITED',
    '-d 192.0.0.0/24 -j REJECT PROHIBITED',
    '-d 192.168.0.0/16 -j REJECT PROHIBITED',
    '-d 224.0.0.0/4 -j REJECT PROHIBITED',
    '-d 240.0.0.0/4 -j REJECT PROHIBITED',
  ]);
  assert.deepEqual(rulesOf(fw.restore, input), [
    '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN',
    '-s 172.20.0.2/32 -j RETURN',
    '-d 10.0.0.5/32 -p tcp -m tcp --dport 5432 -j RETURN',
    '-p udp -m udp --dport 53 -j RETURN',
    '-p tcp -m tcp --dport 53 -j RETURN',
    '-j REJECT PROHIBITED',
  ]);
  // Comments say why, without characters iptables-restore would have to unquote.
  assert.match(
    fw.restore,
    /-d 169\.254\.0\.0\/16 -m comment --comment "link-local: the cloud metadata address 169\.254\.169\.254"/,
  );
  for (const m of fw.restore.matchAll(/--comment "([^"]*)"/g))
    assert.doesNotMatch(m[1] ?? '', /['\\]/);
});

test('a monitor on the host (no address of its own on the network) gets no exception', () => {
  const fw = buildAppFirewall({ network: 'n', bridge: 'br-x', trusted: [], allow: [] });
  assert.doesNotMatch(fw.restore, / -s /);
  assert.doesNotMatch(fw.restore, /ACCEPT/);
});

const network: NetworkInfo = {
  name: 'bucketspace-apps',
  id: '0123456789abcdef',
  driver: 'bridge',
  bridge: 'br-0123456789ab',
  subnets: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }],
  ipv6: false,
};

test("the monitor's addresses on the network: inside its subnets, never the gateway", () => {
  assert.deepEqual(
    trustedAddresses(network, [
      '127.0.0.1',
      '172.20.0.1',
      '172.20.0.3',
      '192.168.5.2',
      '172.20.0.3',
    ]),
    ['172.20.0.3'],
  );
  assert.deepEqual(trustedAddresses(network, ['127.0.0.1', '172.20.0.1']), []);
});

test('networks the firewall cannot cover are named with what to do', () => {
  assert.equal(firewallProblem(network), undefined);
  assert.match(
    firewallProblem({ ...network, driver: 'overlay', bridge: null }) ?? '',
    /uses the overlay driver; the apps firewall works on a bridge network/,
  );
  assert.match(firewallProblem({ ...network, ipv6: true }) ?? '', /IPv6 enabled/);
  assert.match(firewallProblem({ ...network, subnets: [] }) ?? '', /no IPv4 subnet/);
});
