/**
 * How the client reaches an MRIM server (reference §2): a direct TCP connection or a SOCKS5 CONNECT,
 * optionally preceded by the redirector round trip (which goes through the proxy too, as MRA did).
 * Every socket is tuned the same way: Nagle off (one frame per write goes out at once) and TCP
 * keep-alive probes after 5 s of silence.
 */
import net from 'node:net';
import { SocksClient } from 'socks';
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import { Framer, type FramerEvent } from '../protocol/framer.js';
import { MrimClientError, socketErrorText } from './errors.js';

export interface SocksProxy extends Endpoint {
  user?: string;
  password?: string;
}

export interface TransportOptions {
  /** SOCKS5 proxy for every connection (redirector and session). */
  socks?: SocksProxy;
  /** Limit for one TCP connect, SOCKS5 handshake included. */
  connectTimeoutMs: number;
  /** Limit for the redirector's answer once connected. */
  responseTimeoutMs: number;
}

/**
 * Keep-alive idle time. Node exposes only this one knob (`setKeepAlive(true, ms)` → TCP_KEEPIDLE);
 * the probe interval and count stay at the OS defaults with libuv < 1.48 (Node 20), and are 1 s × 10
 * with libuv ≥ 1.48 (Node 22). The MRIM PING every period keeps the session alive in any case.
 */
const KEEPALIVE_IDLE_MS = 5000;

/** `socks5://[user:pass@]host:port` → proxy settings. */
export function parseSocksUrl(text: string): SocksProxy {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MrimClientError('INVALID_ARGUMENT', `SOCKS proxy must be socks5://[user:pass@]host:port, not "${text}"`);
  }
  if (url.protocol !== 'socks5:' || !url.hostname || !url.port) {
    throw new MrimClientError('INVALID_ARGUMENT', `SOCKS proxy must be socks5://[user:pass@]host:port, not "${maskUrl(text)}"`);
  }
  const proxy: SocksProxy = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
  if (url.username) proxy.user = decodeURIComponent(url.username);
  if (url.password) proxy.password = decodeURIComponent(url.password);
  return proxy;
}

/** The proxy URL with its password hidden, for messages. */
function maskUrl(text: string): string {
  return text.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1****@');
}

function tune(socket: net.Socket): net.Socket {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
  return socket;
}

/** One TCP connection to `target`, directly or through the proxy. */
export async function openSocket(target: Endpoint, opts: TransportOptions): Promise<net.Socket> {
  return opts.socks ? openViaSocks(target, opts.socks, opts.connectTimeoutMs) : openDirect(target, opts.connectTimeoutMs);
}

function openDirect(target: Endpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MrimClientError('CONNECT_TIMEOUT', `connecting to ${formatEndpoint(target)} timed out after ${seconds(timeoutMs)}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(tune(socket));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new MrimClientError('CONNECT_FAILED', `cannot connect to ${formatEndpoint(target)}: ${socketErrorText(err)}`, { cause: err }));
    });
  });
}

async function openViaSocks(target: Endpoint, proxy: SocksProxy, timeoutMs: number): Promise<net.Socket> {
  const via = `SOCKS5 proxy ${formatEndpoint(proxy)}`;
  try {
    const { socket } = await SocksClient.createConnection({
      command: 'connect',
      proxy: { host: proxy.host, port: proxy.port, type: 5, userId: proxy.user, password: proxy.password },
      destination: { host: target.host, port: target.port },
      timeout: timeoutMs,
    });
    return tune(socket);
  } catch (err) {
    const text = (err as Error).message ?? String(err);
    if (/timed out/i.test(text)) {
      throw new MrimClientError('CONNECT_TIMEOUT', `${via}: connecting to ${formatEndpoint(target)} timed out after ${seconds(timeoutMs)}`, { cause: err });
    }
    const code = /\b(E[A-Z]+)\b/.exec(text)?.[1];
    const reason = code
      ? `unreachable (${socketErrorText({ code })})`
      : /Authentication failed/i.test(text)
        ? 'rejected the user name or password'
        : /no accepted authentication type/i.test(text)
          ? 'wants credentials (give socks5://user:pass@host:port)'
          : /rejected connection - (\w+)/i.test(text)
            ? `refused the connection to ${formatEndpoint(target)} (${/rejected connection - (\w+)/i.exec(text)![1]})`
            : `failed: ${text}`;
    throw new MrimClientError('PROXY_FAILED', `${via} ${reason}`, { cause: err });
  }
}

/**
 * Asks the redirector (§2.1) where the session server is: connect, read up to EOF, NUL or LF, and
 * parse `host:port` (the Framer recognises that answer, splitting on the last colon).
 */
export async function resolveRedirect(redirector: Endpoint, opts: TransportOptions): Promise<Endpoint> {
  const socket = await openSocket(redirector, opts);
  const where = `redirector ${formatEndpoint(redirector)}`;
  return new Promise((resolve, reject) => {
    const framer = new Framer({ dir: 's2c' });
    let seen = Buffer.alloc(0);
    const finish = (result: Endpoint | MrimClientError) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      if (result instanceof MrimClientError) reject(result);
      else resolve(result);
    };
    const consider = (events: Iterable<FramerEvent>) => {
      for (const ev of events) {
        if (ev.kind === 'redirect' && ev.host !== undefined && ev.port !== undefined) return finish({ host: ev.host, port: ev.port });
        return finish(new MrimClientError('REDIRECT_FAILED', `${where} answered ${JSON.stringify(printable(seen))}, not HOST:PORT`));
      }
      return undefined;
    };
    const timer = setTimeout(
      () => finish(new MrimClientError('REDIRECT_FAILED', `${where} sent no address within ${seconds(opts.responseTimeoutMs)}`)),
      opts.responseTimeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]).subarray(0, 256);
      consider(framer.push(chunk));
    });
    socket.once('end', () => {
      if (seen.length === 0) finish(new MrimClientError('REDIRECT_FAILED', `${where} closed the connection without an address`));
      else consider(framer.finish());
    });
    socket.once('error', (err) => finish(new MrimClientError('REDIRECT_FAILED', `${where}: ${socketErrorText(err)}`, { cause: err })));
  });
}

function printable(b: Buffer): string {
  return b.toString('latin1').replace(/[\0\r\n]+$/, '').replace(/[^\x20-\x7e]/g, '.');
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
