/**
 * Real-socket helpers for the proxy and capture tests: upstream servers (echo, HTTP),
 * a SOCKS5 client, a proxy that records its events, and waits that always time out.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SocksClient } from 'socks';
import { decodeFrame } from '../../src/protocol/codec.js';
import { Framer } from '../../src/protocol/framer.js';
import { MrimProxy, type ProxyOptions } from '../../src/proxy/proxy.js';
import type { TapEvent } from '../../src/tap/events.js';

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms))),
  ]);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 (or another host) whose close() also drops its open connections. */
export async function listenTcp(onSocket: (s: net.Socket) => void, host = '127.0.0.1', opts: net.ServerOpts = {}): Promise<Listening> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, ...opts }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound and released at once): connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Reads a stream to its end (FIN), with a timeout. */
export function readAll(s: NodeJS.ReadableStream, ms = 10_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    }),
    ms,
    'reading to the end of a stream',
  );
}

export interface RecordingProxy {
  port: number;
  events: TapEvent[];
  close(): Promise<void>;
}

export async function startProxy(opts: Partial<ProxyOptions> = {}): Promise<RecordingProxy> {
  const events: TapEvent[] = [];
  const proxy = new MrimProxy({ host: '127.0.0.1', port: 0, ...opts, onEvent: (ev) => (events.push(ev), opts.onEvent?.(ev)) });
  const { port } = (await proxy.listen())!;
  return { port, events, close: () => proxy.close() };
}

/**
 * For a test file: what it starts (proxies, listeners, anything with a close) is closed after its last
 * test, newest first. Call at the top of the file.
 */
export function closedAfterAll(): { keep<T extends { close(): Promise<void> | void }>(thing: T): T; proxyFor(opts?: Partial<ProxyOptions>): Promise<RecordingProxy> } {
  const closers: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });
  const keep = <T extends { close(): Promise<void> | void }>(thing: T): T => {
    closers.push(() => thing.close());
    return thing;
  };
  return { keep, proxyFor: async (opts = {}) => keep(await startProxy(opts)) };
}

/** Connects through the SOCKS5 proxy (the `socks` package as the client). */
export async function socksConnect(proxyPort: number, host: string, port: number, auth?: { user: string; password: string }): Promise<net.Socket> {
  const { socket } = await withTimeout(
    SocksClient.createConnection({
      proxy: { host: '127.0.0.1', port: proxyPort, type: 5, ...(auth ? { userId: auth.user, password: auth.password } : {}) },
      command: 'connect',
      destination: { host, port },
      timeout: 5000,
    }),
    8000,
    `SOCKS connect to ${host}:${port}`,
  );
  socket.setNoDelay(true);
  return socket;
}

/** Waits until the proxy reported the close of `conn` (or of every connection so far). */
export async function waitForClose(proxy: RecordingProxy, count = 1, ms = 5000): Promise<void> {
  const start = Date.now();
  while (proxy.events.filter((e) => e.event.kind === 'close').length < count) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${count} close events`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An upstream that sends back what it gets and ends when the client ends. */
export function echoServer(): Promise<Listening> {
  return listenTcp((s) => {
    s.pipe(s);
  });
}

/** Serves `body` at any path over HTTP. */
export async function httpServer(body: Buffer): Promise<Listening> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A throwaway self-signed certificate for localhost (openssl), or undefined when openssl is missing. */
export function selfSignedCert(): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'mrimtap-cert-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore', timeout: 10_000 },
    );
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads MRIM frames off a stream one at a time (s2c side of a test client). */
export class FrameQueue {
  private frames: Buffer[] = [];
  private waiting?: () => void;
  private readonly framer = new Framer({ dir: 's2c', detectPreamble: false });
  private stream!: NodeJS.ReadableStream;
  private readonly onData = (chunk: Buffer) => {
    for (const ev of this.framer.push(chunk)) if (ev.kind === 'frame') this.frames.push(ev.frame);
    this.waiting?.();
  };

  constructor(stream: NodeJS.ReadableStream) {
    this.attach(stream);
  }

  /** Reads from another stream from now on (after a TLS upgrade). */
  attach(stream: NodeJS.ReadableStream): void {
    this.stream?.removeListener('data', this.onData);
    this.stream = stream;
    stream.on('data', this.onData);
  }

  async next(ms = 5000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiting = () => (clearTimeout(t), resolve());
      });
    }
    return this.frames.shift()!;
  }
}

/**
 * A SOCKS5 CONNECT done by hand (no auth, IPv4 destination); resolves with the socket paused right
 * after the 10-byte success reply, nothing of the relayed stream read yet.
 */
export function rawSocksConnect(proxyPort: number, ipv4: string, port: number): Promise<net.Socket> {
  return withTimeout(
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(proxyPort, '127.0.0.1');
      socket.once('error', reject);
      const request = Buffer.from([5, 1, 0, 1, ...ipv4.split('.').map(Number), port >> 8, port & 0xff]);
      socket.write(Buffer.concat([Buffer.from([5, 1, 0]), request]));
      const need = 2 + 10;
      const onReadable = () => {
        if (socket.readableLength < need) return void socket.read(0);
        const head = socket.read(need) as Buffer;
        socket.off('readable', onReadable);
        if (head[1] !== 0 || head[3] !== 0) return reject(new Error(`SOCKS refused: ${head.toString('hex')}`));
        socket.pause();
        resolve(socket);
      };
      socket.on('readable', onReadable);
    }),
    5000,
    'raw SOCKS connect',
  );
}

/**
 * Sends recorded client frames to an MRIM server as they were, and returns the type of the server's
 * answer to the login among them (LOGIN_ACK or LOGIN_REJ): a capture replayed up to its login.
 */
export async function loginAnswer(port: number, frames: Buffer[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  try {
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const replies = new FrameQueue(socket);
    for (const raw of frames) socket.write(raw);
    for (;;) {
      const type = decodeFrame(await replies.next(), { dir: 's2c' }).type;
      if (type === 'LOGIN_ACK' || type === 'LOGIN_REJ') return type;
    }
  } finally {
    socket.destroy();
  }
}
