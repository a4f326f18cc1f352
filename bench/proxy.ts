/**
 * Proxy peers and traffic for the bench: each peer runs as a child process (a SOCKS5 front, or none for
 * the direct connection); traffic is one-way bulk or chatty MRIM acknowledged by the sink, and ping-pong for RTT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePacket } from '../src/protocol/codec.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Peer {
  name: string;
  /** The SOCKS5 port; undefined for the direct connection. */
  port?: number;
  child?: ChildProcess;
  /** The capture file this peer writes, if any. */
  capture?: string;
}

export interface PeerSpec {
  name: string;
  /** Why it is not run (not installed), when it is not. */
  missing?: string;
  start?: (capture: string) => Promise<Peer>;
}

const installed = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Waits until something accepts connections on the port. */
async function waitListening(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** Runs a peer that prints a line on stderr/stdout matching `portLine` once it listens. */
function startPrinting(name: string, cmd: string, args: string[], portLine: RegExp, capture?: string): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const onData = (d: Buffer) => {
      seen += d.toString();
      const m = portLine.exec(seen);
      if (m) resolve({ name, port: Number(m[1]), child, capture });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}): ${seen.slice(0, 500)}`)));
  });
}

export const PEERS: PeerSpec[] = [
  { name: 'direct', start: async () => ({ name: 'direct' }) },
  {
    name: 'bare Node relay',
    start: () => startPrinting('bare Node relay', process.execPath, ['--import', 'tsx', 'bench/bare-relay.ts'], /^(\d+)\n/m),
  },
  {
    // The recording floor: the bare relay writing each chunk as base64 in a line, nothing else.
    name: 'bare relay --record',
    start: (capture) => startPrinting('bare relay --record', process.execPath, ['--import', 'tsx', 'bench/bare-relay.ts', '--record', capture], /^(\d+)\n/m, capture),
  },
  {
    name: 'microsocks',
    ...(installed('microsocks') ? {} : { missing: 'microsocks is not installed (apt-get install microsocks)' }),
    start: async () => {
      const port = await freePort();
      const child = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      await waitListening(port, child, 'microsocks');
      return { name: 'microsocks', port, child };
    },
  },
  {
    name: 'mitmdump -w',
    ...(installed('mitmdump') ? {} : { missing: 'mitmdump is not installed (apt-get install mitmproxy)' }),
    start: async (capture) => {
      const port = await freePort();
      const args = ['--mode', 'socks5', '--listen-host', '127.0.0.1', '--listen-port', String(port), '-w', capture, '-q', '--set', 'tcp_hosts=.*'];
      const child = spawn('mitmdump', args, { stdio: 'ignore' });
      await waitListening(port, child, 'mitmdump');
      return { name: 'mitmdump -w', port, child, capture };
    },
  },
  mrimtapPeer('mrimtap --record', join(ROOT, 'bin/mrimtap.js')),
  // The addons' relay path (framed, every frame through a hook that changes nothing).
  mrimtapPeer('mrimtap --record --script', join(ROOT, 'bin/mrimtap.js'), ['--script', join(ROOT, 'bench/passive-addon.mjs')]),
  // An older checkout (BENCH_BASELINE=DIR, its dependencies installed) measured in the same run: before/after.
  ...(process.env.BENCH_BASELINE ? [mrimtapPeer('baseline mrimtap --record', join(process.env.BENCH_BASELINE, 'bin/mrimtap.js'))] : []),
];

function mrimtapPeer(name: string, bin: string, extra: string[] = []): PeerSpec {
  return {
    name,
    start: (capture) => startPrinting(name, process.execPath, [bin, 'proxy', '--port', '0', '--quiet', '--record', capture, ...extra], /SOCKS5 on 127\.0\.0\.1:(\d+)/, capture),
  };
}

/** Stops a peer and waits for it (SIGINT: mrimtap and mitmdump finish their captures on it). */
export async function stopPeer(peer: Peer): Promise<void> {
  const child = peer.child;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export const fileSize = (path: string | undefined) => {
  try {
    return path ? statSync(path).size : 0;
  } catch {
    return 0;
  }
};
export const removeFile = (path: string | undefined) => path && rmSync(path, { force: true });

/** Opens a connection to the sink, through the peer's SOCKS5 port when it has one. */
export function connectVia(peer: Peer, sinkPort: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (peer.port === undefined) {
      const s = net.connect(sinkPort, '127.0.0.1', () => resolve(s));
      s.setNoDelay(true);
      s.once('error', reject);
      return;
    }
    const s = net.connect(peer.port, '127.0.0.1');
    s.setNoDelay(true);
    s.once('error', reject);
    let got = Buffer.alloc(0);
    let stage = 0;
    s.once('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (stage === 0 && got.length >= 2) {
        if (got[1] !== 0) return reject(new Error(`${peer.name}: auth method ${got[1]}`));
        got = got.subarray(2);
        stage = 1;
        const req = Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, sinkPort >> 8, sinkPort & 0xff]);
        s.write(req);
      }
      if (stage === 1 && got.length >= 10) {
        s.off('data', onData);
        if (got[1] !== 0) return reject(new Error(`${peer.name}: SOCKS reply ${got[1]}`));
        if (got.length > 10) s.unshift(got.subarray(10));
        resolve(s);
      }
    };
    s.on('data', onData);
  });
}

/**
 * A sink: it counts each connection's bytes and answers one byte once `expected` are in (nothing
 * in-band, so MRIM traffic reaches the proxies' decoders untouched); with `expected` 0 it echoes (RTT).
 */
export async function startSink(expected: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    // Closing its side too ends the flow for a proxy that records a flow once it ends (mitmdump -w).
    s.on('end', () => s.end());
    s.setNoDelay(true);
    let got = 0;
    s.on('data', (d: Buffer) => {
      if (expected === 0) return void s.write(d);
      got += d.length;
      if (got >= expected) {
        got -= expected;
        s.write(Buffer.from([1]));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** A realistic ~300 B MESSAGE frame (CP1251-able Cyrillic text, rtf " "). */
export function chattyFrame(seq: number): Buffer {
  return encodePacket('MESSAGE', { flags: 0, to: 'friend.of.alice@mail.ru', text: `Сообщение ${seq}: как дела, что нового? `.repeat(3), rtf: ' ' }, { proto: '1.21', seq });
}

/** A 64 KiB MESSAGE frame (UTF-16LE text), for bulk traffic the proxy decodes and records in full. */
export function bulkMrimFrame(seq: number): Buffer {
  return encodePacket('MESSAGE', { flags: 0, to: 'friend.of.alice@mail.ru', text: 'Ы'.repeat(32_700), rtf: ' ' }, { proto: '1.21', seq });
}

export interface Transfer {
  /** From the first byte sent until the sink has them all (what the client sees). */
  deliveredMs: number;
  /** Until the peer's capture has them too: it stops growing (a recording proxy may hold bytes it has not
   * recorded yet — mrimtap up to 16 MiB, mitmdump -w a whole TCP flow until it ends). */
  recordedMs: number;
}

/** How long a capture must stay the same size to count as complete; it is polled every CAPTURE_POLL_MS. */
const CAPTURE_QUIET_MS = 300;
const CAPTURE_POLL_MS = 2;

/** One-way transfer of `payload` repeated to `total` bytes, then the connection ended and the capture waited for. */
export async function transfer(sock: net.Socket, payload: Buffer, total: number, capture?: string): Promise<Transfer> {
  const acked = new Promise<void>((resolve, reject) => {
    sock.once('data', () => resolve());
    sock.once('error', reject);
    sock.once('close', () => reject(new Error('closed before the ack')));
  });
  const t0 = performance.now();
  // A batch of frames per write, as a busy TCP stream carries them.
  const batch = Buffer.concat(Array.from({ length: Math.max(1, Math.floor(65536 / payload.length)) }, () => payload));
  let sent = 0;
  while (sent < total) {
    const piece = sent + batch.length <= total ? batch : batch.subarray(0, total - sent);
    sent += piece.length;
    if (!sock.write(piece)) await new Promise((r) => sock.once('drain', r));
  }
  await acked;
  const deliveredMs = performance.now() - t0;
  sock.removeAllListeners('close');
  sock.end();
  if (!capture) return { deliveredMs, recordedMs: deliveredMs };
  let size = fileSize(capture);
  let grewAt = performance.now();
  for (let now = grewAt; now - grewAt < CAPTURE_QUIET_MS && now - t0 < 60_000; now = performance.now()) {
    await new Promise((r) => setTimeout(r, CAPTURE_POLL_MS));
    const next = fileSize(capture);
    if (next !== size) [size, grewAt] = [next, performance.now()];
  }
  return { deliveredMs, recordedMs: Math.max(deliveredMs, grewAt - t0) };
}

/**
 * Waits until the peers' processes have been idle for a moment (at most 10 s), so that one peer's late
 * work (a collection, a capture's last writes) does not land in another peer's round.
 */
export async function untilIdle(peers: Peer[]): Promise<void> {
  const cpu = () => peers.reduce((sum, p) => sum + (p.child?.pid === undefined ? 0 : cpuTicks(`/proc/${p.child.pid}/stat`)), 0);
  for (let waited = 0, last = cpu(); waited < 10_000; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    const now = cpu();
    // At most 20 ms of CPU in those 100 ms, all peers together.
    if (now - last <= 2) return;
    last = now;
  }
}

/** User and system CPU so far of a process or thread (`/proc/PID/stat`, `/proc/self/task/TID/stat`), in clock ticks (100 a second); 0 once it is gone. */
export function cpuTicks(statPath: string): number {
  try {
    const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Ping-pong of one frame through an echo connection: round-trip times in µs. */
export async function pingPong(sock: net.Socket, frame: Buffer, rounds: number): Promise<number[]> {
  const rtts: number[] = [];
  let got = 0;
  let t0 = 0;
  let next: () => void = () => {};
  sock.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= frame.length) {
      got -= frame.length;
      rtts.push((performance.now() - t0) * 1000);
      next();
    }
  });
  for (let i = 0; i < rounds; i++) {
    const done = new Promise<void>((r) => (next = r));
    t0 = performance.now();
    sock.write(frame);
    await done;
  }
  return rtts;
}

/** Resident memory of a process in bytes (Linux /proc). */
export function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
