import { createHash } from 'node:crypto';
import { cidrText, parseCidr, PRIVATE_RANGES, type Cidr } from './ipv4.ts';

/** A private destination apps may reach all the same (RUNTIME_NETWORK_ALLOW): a network, maybe one TCP port. */
export interface AllowedDestination {
  cidr: Cidr;
  /** Only this TCP port; undefined: every port and protocol. */
  port?: number | undefined;
}

/** `10.0.0.5`, `10.0.0.0/24`, `10.0.0.5:5432`, `10.0.0.0/24:5432`; undefined when it is none of these. */
export function parseAllowedDestination(text: string): AllowedDestination | undefined {
  const m = /^([^:]+?)(?::(\d{1,5}))?$/.exec(text.trim());
  if (m?.[1] === undefined) return undefined;
  const cidr = parseCidr(m[1]);
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (cidr === undefined || (port !== undefined && (port < 1 || port > 65535))) return undefined;
  return { cidr, port };
}

export function allowedText(a: AllowedDestination): string {
  return `${cidrText(a.cidr)}${a.port === undefined ? '' : `:${a.port}`}`;
}

export interface AppFirewallInput {
  /** The apps network (names the chains). */
  network: string;
  /** Its Linux bridge, e.g. `br-1a2b3c4d5e6f`. */
  bridge: string;
  /** The monitor's own addresses on the network (when it runs in a container there). */
  trusted: readonly string[];
  allow: readonly AllowedDestination[];
}

/** What the firewall container applies (images/apps-firewall). */
export interface AppFirewall {
  /** Our chains: traffic the apps' bridge forwards, and traffic from the apps to the host. */
  chains: { forward: string; input: string };
  /** iptables-restore input for the filter table: declares (so empties) and fills both chains, in one transaction. */
  restore: string;
  /** `PARENT RULE...`: the jumps to our chains, put first in Docker's DOCKER-USER and in INPUT. */
  jumps: string[];
}

const REJECT = '-j REJECT --reject-with icmp-admin-prohibited';

/** The chains of one apps network: `BS-<8 hex of its name>-FWD` and `-IN` (at most 28 characters). */
export function firewallChains(network: string): AppFirewall['chains'] {
  const id = createHash('sha256').update(network).digest('hex').slice(0, 8);
  return { forward: `BS-${id}-FWD`, input: `BS-${id}-IN` };
}

function comment(text: string): string {
  return `-m comment --comment "${text.replace(/["'\\]/g, '')}"`;
}

/**
 * The rules that keep the apps of one network apart (decision 0055), as
 * pure data. Packets the apps' bridge forwards go through the FWD chain
 * (from DOCKER-USER, before Docker's own rules): replies pass; the
 * monitor's own traffic (when it runs in a container on the network) is
 * accepted; anything else to the bridge (other apps, the monitor) is
 * rejected; then RUNTIME_NETWORK_ALLOW and DNS (Docker's resolver
 * forwards queries from the app's own namespace) pass; every private,
 * link-local and reserved range is rejected; the rest is the internet and
 * goes on to Docker's rules. Packets from the apps to any address of the
 * host go through the IN chain: replies, the monitor, allowed destinations
 * and DNS pass, the rest is rejected. Rejected, not dropped: an app gets
 * "host unreachable" at once (ICMP administratively prohibited), never a
 * hang, and anyone can tell a closed door from a missing one.
 */
export function buildAppFirewall(input: AppFirewallInput): AppFirewall {
  const chains = firewallChains(input.network);
  const { forward: fwd, input: inp } = chains;
  const trusted = input.trusted.map((a) => cidrText({ address: a, prefix: 32 }));
  const allow = input.allow.map((a) =>
    a.port === undefined
      ? `-d ${cidrText(a.cidr)}`
      : `-d ${cidrText(a.cidr)} -p tcp -m tcp --dport ${a.port}`,
  );
  const dns = ['-p udp -m udp --dport 53', '-p tcp -m tcp --dport 53'];
  const established = '-m conntrack --ctstate RELATED,ESTABLISHED';
  const lines = [
    '*filter',
    `:${fwd} - [0:0]`,
    `:${inp} - [0:0]`,
    `-A ${fwd} ${established} -j RETURN`,
    ...trusted.map((t) => `-A ${fwd} -s ${t} ${comment('the monitor')} -j ACCEPT`),
    `-A ${fwd} -o ${input.bridge} ${comment('other apps and the monitor')} ${REJECT}`,
    ...allow.map((a) => `-A ${fwd} ${a} ${comment('RUNTIME_NETWORK_ALLOW')} -j RETURN`),
    ...dns.map((d) => `-A ${fwd} ${d} ${comment('DNS')} -j RETURN`),
    ...PRIVATE_RANGES.map((r) => `-A ${fwd} -d ${r.cidr} ${comment(r.what)} ${REJECT}`),
    `-A ${inp} ${established} -j RETURN`,
    ...trusted.map((t) => `-A ${inp} -s ${t} ${comment('the monitor')} -j RETURN`),
    ...allow.map((a) => `-A ${inp} ${a} ${comment('RUNTIME_NETWORK_ALLOW')} -j RETURN`),
    ...dns.map((d) => `-A ${inp} ${d} ${comment('DNS')} -j RETURN`),
    `-A ${inp} ${comment('the host')} ${REJECT}`,
    'COMMIT',
  ];
  return {
    chains,
    restore: `${lines.join('\n')}\n`,
    jumps: [`DOCKER-USER -i ${input.bridge} -j ${fwd}`, `INPUT -i ${input.bridge} -j ${inp}`],
  };
}
