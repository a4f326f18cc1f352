/**
 * One MRIM connection of the client: frames out through `encodePacket` (one frame per socket write),
 * frames in through a `Framer`, requests matched with their replies by the packet table's reply rules
 * (same seq, or the latest request for HELLO/LOGIN), and the STARTTLS switch on the same socket.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { DecodedFrame } from '../protocol/codec.js';
import { Conversation, hasReply, type ReplyInfo, type SendOptions, type Sent, type Switch } from '../protocol/conversation.js';
import { Framer } from '../protocol/framer.js';
import type { PacketFields, PacketName } from '../protocol/packets/index.js';
import { MrimClientError, socketErrorText } from './errors.js';
import { seconds } from './transport.js';

interface Waiting {
  request: string;
  seq: number;
  resolve: (frame: DecodedFrame) => void;
  reject: (err: MrimClientError) => void;
  timer: NodeJS.Timeout;
}

export interface LinkHandlers {
  /**
   * A received frame that is not the awaited reply of a request, with the request of ours it answers
   * and the switch it accepts, if any.
   */
  frame(frame: DecodedFrame, replyTo?: ReplyInfo, switchTo?: Switch): void;
  /** Every frame sent and received, for observers; received ones come decoded already. */
  observe(dir: 'c2s' | 's2c', frame: Buffer, decoded?: DecodedFrame): void;
  warning(text: string): void;
  /** The connection is gone; `error` is the socket error, if one caused it. */
  closed(error?: Error): void;
}

export class Link {
  private socket: net.Socket | tls.TLSSocket;
  private readonly raw: net.Socket;
  private framer = new Framer({ dir: 's2c', detectPreamble: false });
  /** Numbering, reply matching and the TLS switch of this session, by the packet table. */
  private readonly conversation: Conversation;
  private waiting: Waiting[] = [];
  private socketError?: Error;
  private ended = false;
  private readonly whenClosed: Promise<void>;
  private markClosed!: () => void;
  tls = false;

  constructor(
    socket: net.Socket,
    /** The protocol value of our headers (the profile's). */
    proto: number,
    private readonly responseTimeoutMs: number,
    private readonly handlers: LinkHandlers,
  ) {
    this.raw = socket;
    this.socket = socket;
    this.conversation = new Conversation('client', proto);
    this.whenClosed = new Promise((resolve) => (this.markClosed = resolve));
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.once('close', () => this.onClose());
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Writes one frame; returns its seq. */
  send<N extends PacketName>(type: N, fields?: PacketFields<N>, opts: Omit<SendOptions, 'seq'> = {}): number {
    if (this.ended) throw new MrimClientError('CONNECTION_CLOSED', 'the connection is closed');
    const { frame, seq, notes } = this.conversation.send(type, fields, opts);
    this.socket.write(frame);
    this.handlers.observe('c2s', frame);
    // Text this profile's encoding cannot carry went as "?": the caller should know.
    if (notes.length) this.handlers.warning(`${type} sent with characters CP1251 lacks: ${notes.join('; ')}`);
    return seq;
  }

  /** Writes a frame encoded already (a recorded one, replayed), numbered as the next of ours. */
  resend(raw: Buffer, decoded: DecodedFrame): Sent {
    if (this.ended) throw new MrimClientError('CONNECTION_CLOSED', 'the connection is closed');
    const sent = this.conversation.resend(raw, decoded);
    this.socket.write(sent.frame);
    this.handlers.observe('c2s', sent.frame, decoded);
    return sent;
  }

  /** Sends a request and resolves with its reply (per the table's reply rule), or rejects on timeout. */
  request<N extends PacketName>(type: N, fields?: PacketFields<N>, opts: Omit<SendOptions, 'seq'> = {}): Promise<DecodedFrame> {
    if (!hasReply(type, 'c2s')) throw new Error(`${type} has no reply in the packet table`);
    const seq = this.send(type, fields, opts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w.timer !== timer);
        reject(new MrimClientError('TIMEOUT', `no answer to ${type} (seq ${seq}) within ${seconds(this.responseTimeoutMs)}`));
      }, this.responseTimeoutMs);
      this.waiting.push({ request: type, seq, resolve, reject, timer });
    });
  }

  /**
   * Switches this socket to TLS after the server's OK (§2.3): the raw socket stops being read as
   * MRIM and a TLS client handshake starts on it; frames continue inside TLS.
   */
  async startTls(options: tls.ConnectionOptions): Promise<void> {
    this.raw.removeListener('data', this.onData);
    const secure = tls.connect({ ...options, socket: this.raw });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new MrimClientError('TLS_FAILED', `TLS handshake did not complete within ${seconds(this.responseTimeoutMs)}`));
      }, this.responseTimeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        resolve();
      });
      secure.once('error', (err) => {
        clearTimeout(timer);
        reject(new MrimClientError('TLS_FAILED', `TLS handshake failed: ${tlsErrorText(err)}`, { cause: err }));
      });
    });
    secure.on('data', this.onData);
    secure.on('error', this.onError);
    secure.once('close', () => this.onClose());
    this.socket = secure;
    this.framer = new Framer({ dir: 's2c', detectPreamble: false });
    this.tls = true;
  }

  /** Closes gracefully (FIN), destroying the socket if the server does not close within a second. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.socket.end();
    const timer = setTimeout(() => this.destroy(), 1000);
    await this.whenClosed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    for (const ev of this.framer.push(chunk)) {
      if (ev.kind !== 'frame') {
        this.handlers.warning(`${ev.bytes.length} bytes that are not an MRIM frame skipped (${'reason' in ev ? ev.reason : ev.kind})`);
        continue;
      }
      const { frame, replyTo, switchTo } = this.conversation.receive(ev.frame);
      this.handlers.observe('s2c', ev.frame, frame);
      const i = replyTo ? this.waiting.findIndex((w) => answers(replyTo, w)) : -1;
      if (i !== -1) {
        const [w] = this.waiting.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(frame);
      } else {
        this.handlers.frame(frame, replyTo, switchTo);
      }
    }
  };

  private readonly onError = (err: Error): void => {
    this.socketError ??= err;
  };

  private onClose(): void {
    if (this.ended) return;
    this.ended = true;
    const reason = this.socketError ? `: ${socketErrorText(this.socketError)}` : '';
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new MrimClientError('CONNECTION_CLOSED', `the connection closed before the answer to ${w.request}${reason}`, { cause: this.socketError }));
    }
    this.waiting = [];
    this.markClosed();
    this.handlers.closed(this.socketError);
  }
}

const answers = (reply: ReplyInfo, w: Waiting) => reply.type === w.request && reply.seq === w.seq;

function tlsErrorText(err: Error & { code?: string }): string {
  if (err.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || err.code === 'SELF_SIGNED_CERT_IN_CHAIN') return 'self-signed certificate';
  if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate does not match the host name';
  if (err.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') return 'certificate signed by an unknown authority';
  return socketErrorText(err);
}
