/**
 * `--allow HOST:PORT` patterns: which destinations the proxy connects to. HOST is a name (`*` matches
 * any run of characters: `*.mail.ru`), an IP address, an IPv6 address in brackets, or a subnet
 * (`10.0.0.0/8`, `[fd00::]/8`); PORT is a number, a range (`2041-2042`) or `*`. A destination is
 * matched as the client gave it (a name is not resolved), before --map rewrites it.
 */
import net from 'node:net';
import type { Endpoint } from '../net/endpoint.js';
import { unmapIPv4 } from '../net/local.js';

export interface AllowRule {
  /** The pattern as given. */
  text: string;
  matches(target: Endpoint): boolean;
}

/** A pattern that cannot be read; the message says what is expected. */
export class AllowRuleError extends Error {}

function portRange(text: string, pattern: string): [number, number] {
  if (text === '*') return [1, 65535];
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const from = m ? Number(m[1]) : NaN;
  const to = m?.[2] !== undefined ? Number(m[2]) : from;
  if (!m || from < 1 || to > 65535 || from > to) throw new AllowRuleError(`--allow ${pattern}: the port must be a number 1–65535, a range like 2041-2042, or *`);
  return [from, to];
}

/** Matches addresses (IPv4-mapped ones as IPv4) in the block; names never. */
function inBlock(block: net.BlockList): (host: string) => boolean {
  return (host) => {
    const h = unmapIPv4(host);
    const family = net.isIP(h);
    return family !== 0 && block.check(h, family === 4 ? 'ipv4' : 'ipv6');
  };
}

function hostMatcher(text: string, pattern: string): (host: string) => boolean {
  const subnet = /^\[?([0-9a-fA-F:.]+)\]?\/(\d{1,3})$/.exec(text);
  if (subnet) {
    const family = net.isIP(subnet[1]);
    const prefix = Number(subnet[2]);
    if (!family || prefix > (family === 4 ? 32 : 128)) throw new AllowRuleError(`--allow ${pattern}: ${text} is not a subnet (e.g. 10.0.0.0/8, [fd00::]/8)`);
    const block = new net.BlockList();
    block.addSubnet(subnet[1], prefix, family === 4 ? 'ipv4' : 'ipv6');
    return inBlock(block);
  }
  const bare = text.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (net.isIP(bare)) {
    // The same address however it is written (`::1` = `0:0:0:0:0:0:0:1`).
    const block = new net.BlockList();
    block.addAddress(bare, net.isIP(bare) === 4 ? 'ipv4' : 'ipv6');
    return inBlock(block);
  }
  if (!/^[a-z0-9*?._-]+$/.test(bare)) throw new AllowRuleError(`--allow ${pattern}: ${text} is not a host name, address or subnet`);
  const re = new RegExp(`^${bare.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (host) => re.test(host.toLowerCase());
}

export function parseAllowRule(pattern: string): AllowRule {
  const colon = pattern.lastIndexOf(':');
  const host = colon > 0 ? pattern.slice(0, colon) : '';
  const port = colon > 0 ? pattern.slice(colon + 1) : '';
  // An IPv6 address needs brackets, or its last group would read as the port.
  if (!host || !port || (host.includes(':') && !host.startsWith('['))) {
    throw new AllowRuleError(`--allow takes HOST:PORT (e.g. mrim.mail.ru:2041, *.mail.ru:*, 10.0.0.0/8:2041-2042, [::1]:2041), not "${pattern}"`);
  }
  const [from, to] = portRange(port, pattern);
  const hostMatches = hostMatcher(host, pattern);
  return { text: pattern, matches: (t) => t.port >= from && t.port <= to && hostMatches(t.host) };
}
