/**
 * The redirector ("balancer", reference §2.1): answers every connection with the plain-text `ip:port`
 * of the MRIM port and closes, as mrim.mail.ru:2042 did. A request the client sends first (mrim-prpl
 * sends an HTTP GET) is read and ignored; it only shows in the log.
 */
import net from 'node:net';
import { addressText } from './connection.js';

/** How long a redirector connection may stay open after the answer. */
const LINGER_MS = 5000;
const REQUEST_LOG_LIMIT = 200;

export interface RedirectorEvent {
  /** Connection number, from the server's one counter (the log shows it like every other line). */
  conn: number;
  remote: string;
  answer: string;
  /** First line of what the client sent, if anything. */
  request?: string;
}

export function createRedirector(
  mrimPort: () => number,
  nextConnId: () => number,
  onAnswered: (e: RedirectorEvent) => void,
): { server: net.Server; closeAll(): void } {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const conn = nextConnId();
    const remote = addressText(socket.remoteAddress, socket.remotePort);
    // The address the client reached is the one that reaches the MRIM port too (also behind 0.0.0.0).
    const answer = addressText(socket.localAddress, mrimPort());
    let request = '';
    socket.setNoDelay(true);
    socket.setTimeout(LINGER_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (request.length < REQUEST_LOG_LIMIT) request += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      const line = request.split(/\r?\n/)[0].slice(0, REQUEST_LOG_LIMIT);
      onAnswered({ conn, remote, answer, ...(line ? { request: line } : {}) });
    });
    // Half-close: the client may still be sending its request; reading it on avoids a reset.
    socket.end(`${answer}\n`);
  });
  return {
    server,
    closeAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}
