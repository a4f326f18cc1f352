/**
 * A deliberately small MRIM client for server tests: frames built with encodePacket, the stream read
 * with the shared Framer and decodeFrame, and nothing else — so tests see exactly what the server sent.
 * Received frames queue up; `next()` takes the first one matching (waiting for it with a timeout).
 */
import net from 'node:net';
import tls from 'node:tls';
import { decodeFrame, encodePacket, type DecodedFrame, type UnknownPacketName } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import { Framer } from '../../src/protocol/framer.js';
import { packetByName, type PacketName } from '../../src/protocol/packets/index.js';
import { parseProto, protoMinor } from '../../src/protocol/header.js';
import type { Encoding } from '../../src/protocol/text.js';
import { passwordMd5 } from '../../src/protocol/formats.js';

export const WAIT_MS = 3000;

type Match = string | ((f: DecodedFrame) => boolean);

export interface LoginOptions {
  via?: 'LOGIN2' | 'LOGIN3';
  /** Send the raw MD5 digest instead of the plain password (≥1.22). */
  md5?: boolean;
  status?: number;
  /** Extra LOGIN2 fields (x-status…). */
  fields?: Fields;
}

export interface LoginResult {
  ack: DecodedFrame;
  userInfo: DecodedFrame;
  contactList: DecodedFrame;
  mailbox: DecodedFrame;
}

export class RawClient {
  /** Received frames not taken by `next()` yet. */
  readonly queue: DecodedFrame[] = [];
  /** Every frame received, in order. */
  readonly received: DecodedFrame[] = [];
  /** The bytes of each received frame. */
  readonly raws = new WeakMap<DecodedFrame, Buffer>();
  /** Garbage / non-frame events from the framer (should stay empty: the server only sends frames). */
  readonly oddities: string[] = [];
  readonly proto: string;
  readonly closed: Promise<void>;
  isClosed = false;
  private markClosed!: () => void;
  private socket: net.Socket;
  private framer = new Framer({ dir: 's2c', detectPreamble: false });
  private seq = 0;
  private wake?: () => void;

  private constructor(socket: net.Socket, proto: string) {
    this.socket = socket;
    this.proto = proto;
    this.closed = new Promise((resolve) => {
      this.markClosed = () => {
        this.isClosed = true;
        this.wake?.();
        resolve();
      };
    });
    this.attach(socket);
  }

  static connect(port: number, proto = '1.21', host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => undefined);
        resolve(new RawClient(socket, proto));
      });
    });
  }

  get minor(): number {
    return protoMinor(parseProto(this.proto));
  }

  /** Sends one packet; returns the seq used. */
  send(type: PacketName | UnknownPacketName, fields: Fields = {}, opts: { seq?: number; enc?: Record<string, Encoding> } = {}): number {
    const seq = opts.seq ?? ++this.seq;
    this.socket.write(encodePacket(packetByName(type)?.code ?? (type as UnknownPacketName), fields, { proto: this.proto, seq, enc: opts.enc }));
    return seq;
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The first queued or future frame matching; rejects after `timeoutMs` or when the server closes. */
  async next(match: Match, timeoutMs = WAIT_MS): Promise<DecodedFrame> {
    const test = typeof match === 'string' ? (f: DecodedFrame) => f.type === match : match;
    const label = typeof match === 'string' ? match : 'a matching frame';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.queue.findIndex(test);
      if (i !== -1) return this.queue.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (this.isClosed || left <= 0) {
        const got = this.queue.map((f) => f.type).join(', ') || 'nothing';
        throw new Error(`${this.isClosed ? 'connection closed' : `timeout after ${timeoutMs} ms`} waiting for ${label}; queued: ${got}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Resolves if no matching frame arrives within `ms`; rejects with the frame otherwise. */
  async none(match: Match, ms = 300): Promise<void> {
    const frame = await this.next(match, ms).catch(() => undefined);
    if (frame) throw new Error(`unexpected ${frame.type}: ${JSON.stringify(frame.fields)}`);
  }

  async hello(): Promise<DecodedFrame> {
    const seq = this.send('HELLO');
    const ack = await this.next('HELLO_ACK');
    if (ack.seq !== seq) throw new Error(`HELLO_ACK seq ${ack.seq} ≠ HELLO seq ${seq}`);
    return ack;
  }

  /** Sends the login packet of this version; resolves with LOGIN_ACK or LOGIN_REJ (whichever came). */
  sendLogin(login: string, password: string, opts: LoginOptions = {}): { seq: number; reply: Promise<DecodedFrame> } {
    const via = opts.via ?? 'LOGIN2';
    const pw = opts.md5 ? passwordMd5(password) : password;
    const enc: Record<string, Encoding> = opts.md5 ? {} : { password: 'cp1251' };
    const fields: Fields =
      via === 'LOGIN3'
        ? { login, password: pw, features: 0xbff, userAgent: 'client="mrimtap-test"', lang: 'ru', uaDataNames: [], description: 'mrimtap test' }
        : {
            login,
            password: pw,
            status: opts.status ?? 1,
            statusUri: 'STATUS_ONLINE',
            statusTitle: '',
            statusDesc: '',
            features: 0x3ff,
            userAgent: 'client="mrimtap-test"',
            lang: 'ru',
            description: 'mrimtap test',
            ...opts.fields,
          };
    const seq = this.send(via, fields, { enc });
    return { seq, reply: this.next((f) => f.type === 'LOGIN_ACK' || f.type === 'LOGIN_REJ') };
  }

  /** HELLO, login, and the server's login burst (offline messages stay queued). Throws on LOGIN_REJ. */
  async login(login: string, password: string, opts: LoginOptions = {}): Promise<LoginResult> {
    await this.hello();
    const { seq, reply } = this.sendLogin(login, password, opts);
    const ack = await reply;
    if (ack.type !== 'LOGIN_ACK') throw new Error(`login of ${login} rejected: ${JSON.stringify(ack.fields)}`);
    if (ack.seq !== seq) throw new Error(`LOGIN_ACK seq ${ack.seq} ≠ login seq ${seq}`);
    const userInfo = await this.next('USER_INFO');
    const contactList = await this.next('CONTACT_LIST2');
    const mailbox = await this.next('MAILBOX_STATUS');
    return { ack, userInfo, contactList, mailbox };
  }

  /** STARTTLS → OK, then TLS on the same socket (the test certificate is self-signed). */
  async startTls(): Promise<DecodedFrame> {
    const seq = this.send('STARTTLS');
    const reply = await this.next((f) => f.type === 'OK' || f.type === 'FAILURE');
    if (reply.seq !== seq) throw new Error(`${reply.type} seq ${reply.seq} ≠ STARTTLS seq ${seq}`);
    if (reply.type !== 'OK') return reply;
    const raw = this.socket;
    raw.removeAllListeners('data');
    this.framer = new Framer({ dir: 's2c', detectPreamble: false });
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    secure.on('error', () => undefined);
    this.socket = secure;
    this.attach(secure);
    return reply;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get tlsProtocol(): string | null {
    return this.socket instanceof tls.TLSSocket ? this.socket.getProtocol() : null;
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.framer.push(chunk)) {
        if (ev.kind !== 'frame') {
          this.oddities.push(`${ev.kind}: ${'reason' in ev ? ev.reason : ''}`);
          continue;
        }
        const frame = decodeFrame(ev.frame, { dir: 's2c', minor: this.minor });
        this.raws.set(frame, ev.frame);
        this.received.push(frame);
        this.queue.push(frame);
      }
      this.wake?.();
    });
    socket.on('close', () => this.markClosed());
  }
}
