/**
 * What the proxy hands its connections' bytes to: the TapHub decoding in-line, or a stand-in that
 * passes everything on to be decoded elsewhere (the recording worker). The addons' interception and
 * the redirector rewrite report through it too, so they work with either.
 */
import type { Endpoint } from '../net/endpoint.js';
import type { Direction } from '../protocol/fields.js';
import type { AddonMark, AnyEvent } from '../tap/events.js';

/** One connection's tap: a TapHub's ConnectionTap, or a stand-in passing it on. */
export interface ProxyConnectionTap {
  readonly conn: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** STARTTLS was accepted (TLS interception needs it as soon as the OK is relayed). */
  readonly tlsAccepted: boolean;
  /** Bytes one side received; `addon` marks the frames they complete (an addon changed or added them). */
  push(dir: Direction, chunk: Buffer, time: number, addon?: AddonMark): void;
  end(dir: Direction, time: number): void;
  close(reason: string, time: number): void;
  note(message: string, level: 'info' | 'warn', time: number, dir?: Direction, addon?: AddonMark): void;
  /** The next redirector answer decoded is marked with what the client got instead. */
  rewriteRedirect(rewritten: { text: string; bytes: Buffer }): void;
}

/** Where the proxy's connections are decoded: the TapHub in-line by default. */
export interface ProxyTap {
  open(conn: number, client: Endpoint, server: Endpoint, time: number, candidates?: Endpoint[]): ProxyConnectionTap;
  report(conn: number, client: Endpoint, server: Endpoint | undefined, event: AnyEvent): void;
  /** A tap that can fall behind says when the relays must pause (true) and may go on (false). */
  onHold?(listener: (held: boolean) => void): void;
}
