/**
 * A scripted MRIM server for client tests of what the reference server does not do on purpose
 * (silence, LOGOUT on demand, CONNECTION_PARAMS, offline messages with chosen bytes). Each received
 * frame goes to `onFrame`, which answers through `send`. Frames are built with the shared codec.
 */
import net from 'node:net';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import { Framer } from '../../src/protocol/framer.js';

export interface ScriptedConnection {
  socket: net.Socket;
  /** Every frame received on this connection, decoded. */
  frames: DecodedFrame[];
  /** Sends one frame, with the client's header version and the given seq (default: the request's). */
  send(type: string, fields?: Fields, seq?: number): void;
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

export async function startScriptedServer(onFrame: (frame: DecodedFrame, conn: ScriptedConnection) => void): Promise<ScriptedServer> {
  const connections: ScriptedConnection[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    const framer = new Framer({ dir: 'c2s', detectPreamble: false });
    let proto = 0x10015;
    let minor = 21;
    let lastSeq = 0;
    const conn: ScriptedConnection = {
      socket,
      frames: [],
      send(type, fields = {}, seq) {
        if (!socket.destroyed) socket.write(encodePacket(type, fields, { proto, minor, seq: seq ?? lastSeq, dir: 's2c' }));
      },
    };
    connections.push(conn);
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind !== 'frame') continue;
        proto = ev.frame.readUInt32LE(4);
        minor = proto & 0xffff;
        const frame = decodeFrame(ev.frame, { dir: 'c2s', minor });
        lastSeq = frame.seq;
        conn.frames.push(frame);
        onFrame(frame, conn);
      }
    });
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
