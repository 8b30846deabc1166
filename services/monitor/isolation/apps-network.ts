import type { NetworkInfo } from '../containers/types.ts';
import { inCidr, parseCidr } from './ipv4.ts';

/** Why the firewall cannot keep the apps of this network apart; undefined when it can. */
export function firewallProblem(net: NetworkInfo): string | undefined {
  if (net.driver !== 'bridge' || net.bridge === null) {
    return `network ${net.name} uses the ${net.driver} driver; the apps firewall works on a bridge network (set MONITOR_NETWORK to one)`;
  }
  if (net.ipv6) {
    return `network ${net.name} has IPv6 enabled, which the apps firewall (IPv4) does not cover; recreate it without --ipv6`;
  }
  if (net.subnets.length === 0) return `network ${net.name} has no IPv4 subnet`;
  return undefined;
}

/**
 * The monitor's own addresses on the network: the local addresses inside its
 * subnets that are not a gateway. A monitor on the host reaches the apps
 * through the gateway (the host's own address), which needs no exception;
 * a monitor in a container on the network has an address of its own there.
 */
export function trustedAddresses(net: NetworkInfo, local: readonly string[]): string[] {
  const gateways = new Set(net.subnets.map((s) => s.gateway));
  const subnets = net.subnets.map((s) => parseCidr(s.subnet)).filter((c) => c !== undefined);
  return [
    ...new Set(local.filter((a) => !gateways.has(a) && subnets.some((c) => inCidr(a, c)))),
  ].sort();
}
