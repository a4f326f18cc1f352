/**
 * The redirector's answer on a reverse connection, rewritten so the client's next connection comes
 * back through mrimtap. The server's bytes are held until the framer has read the answer (a line, or
 * the whole stream when it ends without one); then the address to give instead is asked for (a
 * reverse listener to the answered address, which may have to be opened) and the client gets the
 * answer with that address, the bytes around it as they came. The tap decodes the server's bytes as
 * they were, the redirect event marked with what the client got. A stream that does not start with an
 * answer, or an answer that may not be rewritten, goes on unchanged; so does everything the client sends.
 */
import { formatEndpoint, type Endpoint } from '../net/endpoint.js';
import { Framer, REDIRECT_MAX, type FramerEvent } from '../protocol/framer.js';
import type { ProxyConnectionTap } from './proxy-tap.js';
import type { Relay, RelayPipe } from './relay.js';

/**
 * The address the client is to get instead of `answered` (with a note for the log after the answer:
 * a listener opened for it), or why it keeps the answer.
 */
export type RedirectTarget = (answered: Endpoint) => Promise<{ address: Endpoint; note?: string } | { refused: string }>;

type Answer = Extract<FramerEvent, { kind: 'redirect' }>;

export class RedirectRewriter implements RelayPipe {
  private readonly framer = new Framer({ dir: 's2c' });
  /** The server's chunks not yet handed on, with their arrival times (for the tap). */
  private held: Array<{ chunk: Buffer; time: number }> = [];
  private state: 'reading' | 'asking' | 'passing' = 'reading';
  /** The server's FIN waits for the answer to be handed on. */
  private ended?: () => void;

  constructor(
    private readonly relay: Relay,
    private readonly tap: ProxyConnectionTap,
    private readonly target: RedirectTarget,
  ) {}

  push(dir: 'c2s' | 's2c', chunk: Buffer): void {
    const time = Date.now();
    if (dir === 'c2s' || this.state === 'passing') {
      this.tap.push(dir, chunk, time);
      this.relay.send(dir, chunk);
      return;
    }
    this.held.push({ chunk, time });
    if (this.state !== 'reading') return;
    const events = [...this.framer.push(chunk)];
    if (!events.length && this.held.reduce((n, h) => n + h.chunk.length, 0) > REDIRECT_MAX) return this.release();
    this.read(events, false);
  }

  end(dir: 'c2s' | 's2c'): Promise<void> {
    if (dir === 'c2s' || this.state === 'passing') return Promise.resolve();
    const released = new Promise<void>((resolve) => (this.ended = resolve));
    if (this.state === 'reading') this.read([...this.framer.finish()], true);
    return released;
  }

  /** The relay ended with the answer still held: the tap gets the server's bytes (the client got none). */
  close(): void {
    if (this.state !== 'passing') this.release();
  }

  private read(events: FramerEvent[], eof: boolean): void {
    const first = events[0];
    if (!first) {
      if (eof) this.release();
      return;
    }
    if (first.kind !== 'redirect' || first.host === undefined || first.port === undefined) return this.release();
    this.state = 'asking';
    // The server may go on sending while the address is found; it waits rather than piling up here.
    this.relay.hold('s2c', true);
    this.target({ host: first.host, port: first.port }).then(
      (given) => this.release(first, given),
      (e: Error) => this.release(first, { refused: e.message }),
    );
  }

  private release(answer?: Answer, given?: Awaited<ReturnType<RedirectTarget>>): void {
    if (this.state === 'passing') return;
    this.state = 'passing';
    const held = Buffer.concat(this.held.map((h) => h.chunk));
    let toClient = held;
    if (answer && given && !('refused' in given)) {
      const text = formatEndpoint(given.address);
      // Only the address changes: the terminator and anything around it stay as the server sent them.
      const bytes = Buffer.from(answer.bytes.toString('latin1').replace(answer.text, text), 'latin1');
      toClient = Buffer.concat([held.subarray(0, answer.offset), bytes, held.subarray(answer.offset + answer.bytes.length)]);
      this.tap.rewriteRedirect({ text, bytes });
    }
    for (const h of this.held) this.tap.push('s2c', h.chunk, h.time);
    this.held = [];
    if (given && 'refused' in given) this.tap.note(`redirector answer ${answer!.text} passed on unchanged: ${given.refused}`, 'warn', Date.now(), 's2c');
    else if (given?.note) this.tap.note(given.note, 'info', Date.now());
    this.relay.send('s2c', toClient);
    this.relay.hold('s2c', false);
    this.ended?.();
  }
}
