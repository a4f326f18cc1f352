/**
 * Failed login attempts per client address, for servers that check passwords (the proxy's RFC 1929,
 * the reference server's LOGIN2/LOGIN3): after a few failures in a row an address is locked out for a
 * delay that doubles with each further failure, so guessing slows to a few tries a minute however
 * many connections it opens. A success clears the address. Memory is bounded: the addresses quiet for
 * longest are forgotten first.
 */
import net from 'node:net';

export interface BackoffOptions {
  /** Failures in a row allowed before the first lockout (default 3). */
  free?: number;
  /** First lockout (default 1 s); each further failure doubles it. */
  baseDelayMs?: number;
  /** Longest lockout (default 60 s). */
  maxDelayMs?: number;
  /** An address without a failure for this long starts afresh (default 15 min). */
  forgetAfterMs?: number;
  /** Addresses remembered at most (default 10,000). */
  maxAddresses?: number;
  /** The clock (ms); tests step it. */
  now?: () => number;
}

interface Record {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

/**
 * The key an address is counted under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by its /64 — one
 * host usually owns a whole /64 and could otherwise step through its addresses.
 */
export function addressKey(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (!net.isIPv6(plain)) return plain;
  const [head, tail = ''] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = plain.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

export class FailureBackoff {
  private readonly free: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** In order of last failure, oldest first (a Map keeps insertion order). */
  private readonly records = new Map<string, Record>();

  constructor(opts: BackoffOptions = {}) {
    this.free = opts.free ?? 3;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 15 * 60_000;
    this.maxAddresses = opts.maxAddresses ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds before an attempt from this address is checked again; 0 when it may try now. */
  lockedFor(address: string): number {
    const r = this.current(addressKey(address));
    return r ? Math.max(0, r.lockedUntil - this.now()) : 0;
  }

  /** Counts a failure; returns the lockout it starts (0 while the address still has free attempts). */
  failed(address: string): number {
    const key = addressKey(address);
    const now = this.now();
    const r = this.current(key) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    r.failures++;
    r.lastFailure = now;
    const over = r.failures - this.free;
    const delay = over > 0 ? Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over - 1, 30)) : 0;
    r.lockedUntil = now + delay;
    this.records.delete(key);
    this.records.set(key, r);
    if (this.records.size > this.maxAddresses) this.records.delete(this.records.keys().next().value!);
    return delay;
  }

  succeeded(address: string): void {
    this.records.delete(addressKey(address));
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.records.size;
  }

  private current(key: string): Record | undefined {
    const r = this.records.get(key);
    if (r && this.now() - r.lastFailure > this.forgetAfterMs) {
      this.records.delete(key);
      return undefined;
    }
    return r;
  }
}
