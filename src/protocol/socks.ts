/**
 * Recognises SOCKS5 handshake messages (RFC 1928, RFC 1929) at the start of a stream, so that a raw
 * capture of a client's connection to a proxy decodes too. Parsing only; the proxy lives in src/socks.
 */
export type SocksStep = 'greeting' | 'auth' | 'request' | 'method' | 'auth-reply' | 'reply' | 'done';

export type SocksMessage =
  | { type: 'greeting'; methods: string[] }
  | { type: 'auth'; user: string; password: string }
  | { type: 'request'; command: string; host: string; port: number; atyp: string }
  | { type: 'method'; method: string }
  | { type: 'auth-reply'; ok: boolean; status: number }
  | { type: 'reply'; reply: string; code: number; host: string; port: number; atyp: string };

export const SOCKS_METHODS: Record<number, string> = { 0: 'no-auth', 1: 'gssapi', 2: 'username/password', 0xff: 'no-acceptable' };
export const SOCKS_COMMANDS: Record<number, string> = { 1: 'CONNECT', 2: 'BIND', 3: 'UDP_ASSOCIATE' };
export const SOCKS_REPLIES: Record<number, string> = {
  0: 'succeeded',
  1: 'general failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

type Parsed = { message: SocksMessage; length: number; next: SocksStep } | 'incomplete' | 'invalid';

function address(b: Buffer, at: number): { host: string; port: number; atyp: string; length: number } | 'incomplete' | 'invalid' {
  if (b.length <= at) return 'incomplete';
  const atyp = b[at];
  let host: string;
  let end: number;
  if (atyp === 1) {
    end = at + 1 + 4;
    if (b.length < end + 2) return 'incomplete';
    host = [...b.subarray(at + 1, end)].join('.');
  } else if (atyp === 3) {
    if (b.length < at + 2) return 'incomplete';
    end = at + 2 + b[at + 1];
    if (b.length < end + 2) return 'incomplete';
    host = b.subarray(at + 2, end).toString('latin1');
  } else if (atyp === 4) {
    end = at + 1 + 16;
    if (b.length < end + 2) return 'incomplete';
    const words: string[] = [];
    for (let i = at + 1; i < end; i += 2) words.push(b.readUInt16BE(i).toString(16));
    host = words.join(':');
  } else {
    return 'invalid';
  }
  return { host, port: b.readUInt16BE(end), atyp: atyp === 1 ? 'ipv4' : atyp === 3 ? 'domain' : 'ipv6', length: end + 2 };
}

export function parseSocksMessage(b: Buffer, step: SocksStep): Parsed {
  if (b.length < 2) return 'incomplete';
  switch (step) {
    case 'greeting': {
      if (b[0] !== 5 || b[1] === 0) return 'invalid';
      if (b.length < 2 + b[1]) return 'incomplete';
      const methods = [...b.subarray(2, 2 + b[1])].map((m) => SOCKS_METHODS[m] ?? `0x${m.toString(16)}`);
      return { message: { type: 'greeting', methods }, length: 2 + b[1], next: 'auth' };
    }
    case 'auth': {
      // The server's method choice is on the other direction; the first byte tells which message this is.
      if (b[0] === 5) return parseSocksMessage(b, 'request');
      if (b[0] !== 1) return 'invalid';
      const ulen = b[1];
      if (b.length < 3 + ulen) return 'incomplete';
      const plen = b[2 + ulen];
      if (b.length < 3 + ulen + plen) return 'incomplete';
      const user = b.subarray(2, 2 + ulen).toString('utf8');
      const password = b.subarray(3 + ulen, 3 + ulen + plen).toString('utf8');
      return { message: { type: 'auth', user, password }, length: 3 + ulen + plen, next: 'request' };
    }
    case 'request': {
      if (b[0] !== 5) return 'invalid';
      if (b.length < 4) return 'incomplete';
      const a = address(b, 3);
      if (typeof a === 'string') return a;
      const command = SOCKS_COMMANDS[b[1]] ?? `0x${b[1].toString(16)}`;
      return { message: { type: 'request', command, host: a.host, port: a.port, atyp: a.atyp }, length: a.length, next: 'done' };
    }
    case 'method': {
      if (b[0] !== 5) return 'invalid';
      const method = SOCKS_METHODS[b[1]] ?? `0x${b[1].toString(16)}`;
      const next: SocksStep = b[1] === 2 ? 'auth-reply' : b[1] === 0xff ? 'done' : 'reply';
      return { message: { type: 'method', method }, length: 2, next };
    }
    case 'auth-reply': {
      if (b[0] !== 1) return 'invalid';
      return { message: { type: 'auth-reply', ok: b[1] === 0, status: b[1] }, length: 2, next: b[1] === 0 ? 'reply' : 'done' };
    }
    case 'reply': {
      if (b[0] !== 5) return 'invalid';
      if (b.length < 4) return 'incomplete';
      const a = address(b, 3);
      if (typeof a === 'string') return a;
      const reply = SOCKS_REPLIES[b[1]] ?? `0x${b[1].toString(16)}`;
      return { message: { type: 'reply', reply, code: b[1], host: a.host, port: a.port, atyp: a.atyp }, length: a.length, next: 'done' };
    }
    case 'done':
      return 'invalid';
  }
}
