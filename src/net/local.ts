/** Which addresses are this machine's: loopback, wildcard binds, and the addresses of its interfaces. */
import net from 'node:net';
import { networkInterfaces } from 'node:os';

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything else as it is. */
export function unmapIPv4(host: string): string {
  return host.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or `localhost`: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = unmapIPv4(host.replace(/^\[|\]$/g, '').toLowerCase());
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  return family !== 0 && LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/** Listening on every address of the machine. */
export function isWildcard(host: string): boolean {
  return ['0.0.0.0', '::', '', '::0', '0:0:0:0:0:0:0:0'].includes(host);
}

/** An IP address of this machine: loopback, or one of its interfaces'. */
export function isLocalAddress(ip: string): boolean {
  const h = unmapIPv4(ip).toLowerCase();
  if (isLoopback(h)) return true;
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address.toLowerCase() === h));
}

/**
 * Whether a connection to `ip`:`port` arrives at a listener bound to `listen`: the same port, and the
 * listener's own address or, for a wildcard bind, any address of this machine.
 */
export function reachesListener(ip: string, port: number, listen: { host: string; port: number }): boolean {
  if (port !== listen.port) return false;
  if (isWildcard(listen.host)) return isLocalAddress(ip);
  return unmapIPv4(ip).toLowerCase() === unmapIPv4(listen.host).toLowerCase();
}
