// Client replay's decisions without sockets: what goes out when, in each timing mode, what a frame
// carries from the live server, and how the live frames are judged. A fake clock and a fake server
// stand in for the sockets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket, type DecodedFrame } from '../../src/protocol/codec.js';
import type { Fields } from '../../src/protocol/fields.js';
import type { PacketName } from '../../src/protocol/packets/index.js';
import { Comparer } from '../../src/replay/compare.js';
import { ClientPlayback, type Action, type Next } from '../../src/replay/playback.js';
import type { Timing } from '../../src/replay/report.js';
import { recordingOf, type Line } from '../helpers/recording-builder.js';

const live = (type: PacketName, fields: Fields = {}, seq = 1): DecodedFrame => decodeFrame(encodePacket(type, fields as never, { proto: '1.21', seq, dir: 's2c' }), { dir: 's2c' });

/** Drives a playback: acts at once (open succeeds, sends get live indices), records what it did. */
class Driver {
  readonly done: string[] = [];
  readonly actions: Action[] = [];
  now = 1_000_000;
  private index = 0;
  /** The live index of each sent recorded step. */
  readonly liveIndex = new Map<number, number>();

  constructor(readonly playback: ClientPlayback) {}

  /** Runs until the playback waits (returns until when) or is done. */
  run(): Next {
    for (;;) {
      const next = this.playback.next(this.now);
      if (next.kind !== 'act') return next;
      const a = next.action;
      this.actions.push(a);
      if (a.kind === 'open') {
        this.playback.opened(a.session.conn, '127.0.0.1:2041', this.now);
        this.done.push(`open #${a.session.conn}`);
      } else if (a.kind === 'send') {
        const index = this.index++;
        this.liveIndex.set(a.step, index);
        this.playback.sent(a.session.conn, a.step, index, index + 1, a.out.changes);
        this.done.push(`#${a.session.conn} ${a.out.frame.type}`);
      } else {
        this.playback.closed(a.session.conn, false);
        this.done.push(`close #${a.session.conn}`);
      }
    }
  }

  /** The live server answers the last frame of ours with this type. */
  reply(conn: number, frame: DecodedFrame, to?: string): void {
    const sent = to ? [...this.actions].reverse().find((a) => a.kind === 'send' && a.out.frame.type === to) : undefined;
    const index = sent && sent.kind === 'send' ? this.liveIndex.get(sent.step) : undefined;
    this.playback.received(conn, frame, index !== undefined ? { type: to!, seq: index + 1, index } : undefined, this.now);
  }
}

const opts = (timing: Timing = 'step') => ({ timing, timeoutMs: 1000, comparer: new Comparer() });

/** alice logs in; bob's message reaches her; she acknowledges it. */
const LOGIN: Line[] = [
  { conn: 1, dir: 'c2s', type: 'HELLO' },
  { conn: 1, dir: 's2c', type: 'HELLO_ACK', fields: { pingPeriod: 30 }, answers: 0 },
  { conn: 1, dir: 'c2s', type: 'LOGIN3', fields: { login: 'alice@mail.ru', password: 'alice' } },
  { conn: 1, dir: 's2c', type: 'LOGIN_ACK', answers: 2 },
  { conn: 1, dir: 's2c', type: 'MESSAGE_ACK', fields: { msgId: 5, flags: 0, from: 'bob@mail.ru', text: 'Привет' } },
  { conn: 1, dir: 'c2s', type: 'MESSAGE_RECV', fields: { from: 'bob@mail.ru', msgId: 5 } },
];

describe('ClientPlayback', () => {
  it('step: a frame waits for the server frames recorded before it; what never comes is missing after the timeout', () => {
    const [session] = recordingOf(LOGIN).connections;
    const d = new Driver(new ClientPlayback([session], opts()));
    let next = d.run();
    assert.deepEqual(d.done, ['open #1', '#1 HELLO']);
    assert.equal(next.kind, 'wait');
    d.reply(1, live('HELLO_ACK', { pingPeriod: 30 }), 'HELLO');
    d.run();
    assert.deepEqual(d.done.slice(2), ['#1 LOGIN3']);
    d.reply(1, live('LOGIN_ACK'), 'LOGIN3');
    // MESSAGE_ACK does not come: MESSAGE_RECV waits the timeout, then goes with the recorded id.
    next = d.run();
    assert.deepEqual(next, { kind: 'wait', until: d.now + 1000 });
    d.now += 1000;
    d.run();
    assert.deepEqual(d.done.slice(3), ['#1 MESSAGE_RECV', 'close #1']);
    const [report] = d.playback.reports();
    assert.deepEqual(report.rows.map((r) => `${r.what} ${r.verdict}`), [
      'connect sent', 'HELLO sent', 'HELLO_ACK match', 'LOGIN3 sent', 'LOGIN_ACK match', 'MESSAGE_ACK missing', 'MESSAGE_RECV sent', 'close sent',
    ]);
    assert.deepEqual(report.counts, { match: 2, differs: 0, missing: 1, unexpected: 0 });
  });

  it('the live server\'s ids go into the frames that answer by them; the live frame is judged with the volatile id left out', () => {
    const [session] = recordingOf(LOGIN).connections;
    const d = new Driver(new ClientPlayback([session], opts('asap')));
    d.run();
    // asap sends at once, but MESSAGE_RECV waits for the MESSAGE_ACK whose id it carries.
    assert.deepEqual(d.done, ['open #1', '#1 HELLO', '#1 LOGIN3']);
    d.reply(1, live('MESSAGE_ACK', { msgId: 77, flags: 0, from: 'bob@mail.ru', text: 'Привет' }));
    d.run();
    const recv = d.actions.find((a) => a.kind === 'send' && a.out.frame.type === 'MESSAGE_RECV');
    assert.ok(recv && recv.kind === 'send');
    assert.equal(recv.out.frame.fields.msgId, 77);
    assert.deepEqual(recv.out.changes, ['msgId 5 → 77 (the live server\'s)']);
    assert.equal(decodeFrame(recv.out.raw, { dir: 'c2s' }).fields.msgId, 77, 'the bytes say so too');
    const unchanged = d.actions.find((a) => a.kind === 'send' && a.out.frame.type === 'HELLO');
    assert.ok(unchanged && unchanged.kind === 'send' && unchanged.out.raw === session.frames[0].raw, 'a frame nothing changes in goes out as recorded');
    assert.equal(d.playback.reports()[0].rows.find((r) => r.what === 'MESSAGE_ACK')!.verdict, 'match');
  });

  it('original: each frame at its recorded offset', () => {
    const [session] = recordingOf([
      { conn: 1, dir: 'c2s', type: 'HELLO', at: 0 },
      { conn: 1, dir: 'c2s', type: 'PING', at: 100 },
      { conn: 1, dir: 'c2s', type: 'DISCONNECT', at: 500 },
    ]).connections;
    const d = new Driver(new ClientPlayback([session], opts('original')));
    const start = d.now;
    d.run();
    assert.deepEqual(d.done, ['open #1', '#1 HELLO'], 'the recorded PING is not replayed: keep-alives go on the live period');
    const next = d.run();
    assert.deepEqual(next, { kind: 'wait', until: start + 500 });
    d.now = start + 500;
    assert.deepEqual(d.run(), { kind: 'wait', until: start + 505 }, 'the close was recorded 5 ms later');
    d.now = start + 505;
    d.run();
    assert.deepEqual(d.done.slice(2), ['#1 DISCONNECT', 'close #1']);
  });

  it('sessions keep their recorded order: a connection opens once what was recorded before it on the others came', () => {
    const rec = recordingOf([
      { conn: 1, dir: 'c2s', type: 'MESSAGE', fields: { flags: 0, to: 'carol@list.ru', text: 'позвони' } },
      { conn: 1, dir: 's2c', type: 'MESSAGE_STATUS', fields: { status: 0 }, answers: 0 },
      { conn: 2, dir: 'c2s', type: 'HELLO' },
    ]);
    const d = new Driver(new ClientPlayback(rec.connections, opts()));
    d.run();
    assert.deepEqual(d.done, ['open #1', '#1 MESSAGE'], 'carol waits for the message to be stored');
    d.reply(1, live('MESSAGE_STATUS', { status: 0 }), 'MESSAGE');
    d.run();
    assert.deepEqual(d.done.slice(2), ['open #2', '#2 HELLO', 'close #1', 'close #2']);
  });

  it('a reply of another type is a difference; what has no counterpart is unexpected, shown where it came', () => {
    const [session] = recordingOf(LOGIN.slice(0, 4)).connections;
    const d = new Driver(new ClientPlayback([session], opts()));
    d.run();
    d.reply(1, live('HELLO_ACK', { pingPeriod: 30 }), 'HELLO');
    d.run();
    d.reply(1, live('USER_STATUS', { status: 1, user: 'x@mail.ru' }));
    d.reply(1, live('LOGIN_REJ', { reason: 'Invalid login' }), 'LOGIN3');
    d.playback.closed(1, true);
    assert.equal(d.run().kind, 'done');
    const rows = d.playback.reports()[0].rows;
    assert.deepEqual(rows.map((r) => `${r.what} ${r.verdict}`), ['connect sent', 'HELLO sent', 'HELLO_ACK match', 'LOGIN3 sent', 'USER_STATUS unexpected', 'LOGIN_ACK differs', 'close match']);
    assert.equal(rows[4].note, 'arrived after C→S LOGIN3 [2]');
    assert.deepEqual(rows[5].diffs?.[0], { path: 'type', expected: 'LOGIN_ACK', actual: 'LOGIN_REJ' });
  });

  it('the server closing while frames of ours are left is unexpected, and those frames are not sent', () => {
    const [session] = recordingOf(LOGIN.slice(0, 3)).connections;
    const d = new Driver(new ClientPlayback([session], opts()));
    d.run();
    d.playback.closed(1, true);
    d.run();
    const rows = d.playback.reports()[0].rows;
    assert.deepEqual(rows.map((r) => `${r.what} ${r.verdict}`), ['connect sent', 'HELLO sent', 'close unexpected', 'HELLO_ACK missing', 'LOGIN3 not-sent', 'close not-sent']);
  });

  it('a recorded server close is expected of the live server', () => {
    const rec = recordingOf([{ conn: 1, dir: 'c2s', type: 'HELLO' }, { conn: 1, dir: 's2c', type: 'LOGOUT', fields: { reason: 0x10 } }], { closedBy: { 1: 'server' } });
    const d = new Driver(new ClientPlayback(rec.connections, opts()));
    d.run();
    d.reply(1, live('LOGOUT', { reason: 0x10 }));
    d.playback.closed(1, true);
    assert.equal(d.run().kind, 'done');
    assert.deepEqual(d.playback.reports()[0].rows.map((r) => `${r.what} ${r.verdict}`), ['connect sent', 'HELLO sent', 'LOGOUT match', 'close match']);
  });

  it('a connection that cannot be made is an error, and nothing of it is sent', () => {
    const [session] = recordingOf(LOGIN).connections;
    const p = new ClientPlayback([session], opts());
    const first = p.next(0);
    assert.ok(first.kind === 'act' && first.action.kind === 'open');
    p.failed(1, 'cannot connect to 127.0.0.1:1: connection refused');
    assert.equal(p.next(0).kind, 'done');
    const [report] = p.reports();
    assert.equal(report.error, 'cannot connect to 127.0.0.1:1: connection refused');
    assert.deepEqual(report.rows.filter((r) => r.dir === 'c2s').map((r) => r.verdict), ['not-sent', 'not-sent', 'not-sent']);
  });
});
