import { isIPv4 } from 'node:net';

/** An IPv4 network: `10.0.0.0/8`; a single address is a `/32`. */
export interface Cidr {
  /** The network address (host bits cleared). */
  address: string;
  prefix: number;
}

function toInt(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(n / 2 ** shift) % 256)).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

/** `10.1.2.3`, `10.0.0.0/8`: the network, host bits cleared; undefined when it is not IPv4. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, ...rest] = text.trim().split('/');
  if (address === undefined || rest.length > 0 || !isIPv4(address)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (!/^\d{1,2}$/.test(prefixText ?? '32') || prefix > 32) return undefined;
  return { address: fromInt((toInt(address) & maskOf(prefix)) >>> 0), prefix };
}

export function cidrText(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

/** Whether an IPv4 address lies in the network. */
export function inCidr(address: string, cidr: Cidr): boolean {
  if (!isIPv4(address)) return false;
  return (toInt(address) & maskOf(cidr.prefix)) >>> 0 === toInt(cidr.address);
}

/**
 * Where apps may not go besides the host itself: every private, shared,
 * link-local and reserved IPv4 range. What is left is the internet.
 */
export const PRIVATE_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: '0.0.0.0/8', what: '"this network"' },
  { cidr: '10.0.0.0/8', what: 'private (RFC 1918)' },
  { cidr: '100.64.0.0/10', what: 'carrier-grade NAT, VPNs such as Tailscale' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local: the cloud metadata address 169.254.169.254' },
  { cidr: '172.16.0.0/12', what: "private (RFC 1918), Docker's networks" },
  { cidr: '192.0.0.0/24', what: 'IETF protocol assignments' },
  { cidr: '192.168.0.0/16', what: "private (RFC 1918), Docker's networks" },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved, broadcast' },
];
