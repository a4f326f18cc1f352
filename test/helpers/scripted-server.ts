/**
 * A scripted MRIM server: each received frame goes to `onFrame`, which answers through `send` (and may
 * continue in TLS after a STARTTLS). Client tests use it for what the reference server does not do on
 * purpose (silence, LOGOUT on demand, CONNECTION_PARAMS, offline messages with chosen bytes); relay
 * tests compare the bytes each side sent. Frames are built with the shared codec.
 */
import net from 'node:net';
import tls from 'node:tls';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import { Framer } from '../../src/protocol/framer.js';
import type { PacketName } from '../../src/protocol/packets/index.js';

export interface ScriptedConnection {
  socket: net.Socket;
  /** Every frame received on this connection, decoded. */
  frames: DecodedFrame[];
  /** The same frames, byte for byte as they arrived. */
  received: Buffer[];
  /** Every frame this server wrote on the connection, byte for byte. */
  sent: Buffer[];
  /** Sends one frame, with the client's header version and the given seq (default: the request's). */
  send(type: PacketName, fields?: Fields, seq?: number): void;
  /** From now on the connection is TLS, with this server certificate (after answering STARTTLS with OK). */
  startTls(credentials: { cert: string; key: string }): void;
}

export interface ScriptedServer {
  port: number;
  connections: ScriptedConnection[];
  close(): Promise<void>;
}

/** Answers HELLO, LOGIN2/LOGIN3 and sends an empty contact list: enough to get a client online. */
export function answerLogin(frame: DecodedFrame, conn: ScriptedConnection, pingPeriod = 30): boolean {
  if (frame.type === 'HELLO') conn.send('HELLO_ACK', { pingPeriod }, 0);
  else if (frame.type === 'LOGIN2' || frame.type === 'LOGIN3') {
    conn.send('LOGIN_ACK');
    conn.send('CONTACT_LIST2', { status: 0, groupCount: 1, groupMask: 'us', contactMask: 'uussuus', groups: [{ flags: 2, name: 'General' }], contacts: [] });
  } else return false;
  return true;
}

/**
 * Exactly one answer per request, for relay tests that read in step with what they send: HELLO →
 * HELLO_ACK, LOGIN2 → LOGIN_ACK, MESSAGE → MESSAGE_STATUS, STARTTLS → OK and TLS with `credentials`
 * (FAILURE without).
 */
export function answerEachRequest(credentials?: { cert: string; key: string }): (frame: DecodedFrame, conn: ScriptedConnection) => void {
  return (frame, conn) => {
    if (frame.type === 'HELLO') conn.send('HELLO_ACK', { pingPeriod: 30 });
    else if (frame.type === 'LOGIN2') conn.send('LOGIN_ACK');
    else if (frame.type === 'MESSAGE') conn.send('MESSAGE_STATUS', { status: 0 });
    else if (frame.type === 'STARTTLS' && credentials) {
      conn.send('OK');
      conn.startTls(credentials);
    } else if (frame.type === 'STARTTLS') conn.send('FAILURE');
  };
}

export async function startScriptedServer(onFrame: (frame: DecodedFrame, conn: ScriptedConnection) => void): Promise<ScriptedServer> {
  const connections: ScriptedConnection[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const framer = new Framer({ dir: 'c2s', detectPreamble: false });
    let stream: net.Socket | tls.TLSSocket = socket;
    let proto = 0x10015;
    let minor = 21;
    let lastSeq = 0;
    const onData = (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind !== 'frame') continue;
        proto = ev.frame.readUInt32LE(4);
        minor = proto & 0xffff;
        const frame = decodeFrame(ev.frame, { dir: 'c2s', minor });
        lastSeq = frame.seq;
        conn.received.push(ev.frame);
        conn.frames.push(frame);
        onFrame(frame, conn);
      }
    };
    const conn: ScriptedConnection = {
      socket,
      frames: [],
      received: [],
      sent: [],
      send(type, fields = {}, seq) {
        if (socket.destroyed) return;
        const frame = encodePacket(type, fields, { proto, minor, seq: seq ?? lastSeq, dir: 's2c' });
        conn.sent.push(frame);
        stream.write(frame);
      },
      startTls({ cert, key }) {
        stream.off('data', onData);
        stream = new tls.TLSSocket(socket, { isServer: true, cert, key });
        stream.on('error', () => undefined);
        stream.on('data', onData);
        // The client's close_notify ends the TLS side; answer it as a plain socket answers a FIN.
        stream.on('end', () => stream.end());
      },
    };
    connections.push(conn);
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.socket.destroy();
        server.close(() => resolve());
      }),
  };
}
