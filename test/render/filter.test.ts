// The display filter language: predicates on event properties and decoded fields, boolean structure,
// and names checked when the filter is compiled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import type { Direction } from '../../src/protocol/fields.js';
import { FilterError, parseFilter } from '../../src/render/filter.js';
import type { TapEvent } from '../../src/tap/events.js';

const client = { host: '127.0.0.1', port: 50000 };
const T0 = new Date(2026, 0, 31, 12, 0, 0).getTime();

function frame(conn: number, dir: Direction, raw: Buffer, extra: { time?: number; login?: string; latencyMs?: number } = {}): TapEvent {
  const decoded = decodeFrame(raw, { dir });
  return {
    conn,
    client,
    ...(extra.login ? { login: extra.login } : {}),
    event: {
      kind: 'frame',
      dir,
      offset: 0,
      time: extra.time ?? T0,
      index: 0,
      raw,
      frame: decoded,
      ...(extra.latencyMs !== undefined ? { replyTo: { type: 'MESSAGE', seq: decoded.seq, index: 0, latencyMs: extra.latencyMs } } : {}),
    },
  };
}

const events: Record<string, TapEvent> = {
  hello: frame(1, 'c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 })),
  login: frame(1, 'c2s', encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'x', status: 2 }, { proto: '1.8', seq: 2 }), { time: T0 + 1000 }),
  msg: frame(1, 'c2s', encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет, Боб!', rtf: ' ' }, { proto: '1.8', seq: 12 }), { time: T0 + 2500, login: 'alice@mail.ru' }),
  ack: frame(2, 's2c', encodePacket('MESSAGE_ACK', { msgId: 1, flags: 0x100000, from: 'alice@mail.ru', text: 'Привет, Боб!' }, { proto: '1.21', seq: 3 }), { time: T0 + 2600, login: 'bob@mail.ru' }),
  status: frame(1, 's2c', encodePacket('MESSAGE_STATUS', { status: 0 }, { proto: '1.8', seq: 12 }), { time: T0 + 2700, latencyMs: 200 }),
  away: frame(2, 's2c', encodePacket('USER_STATUS', { status: 2, user: 'alice@mail.ru' }, { proto: '1.21', seq: 4 }), { time: T0 + 6000 }),
  open: { conn: 3, client, event: { kind: 'open', time: T0 + 7000, client, server: client } },
};

/** Which of the events a filter selects, in order (one filter instance, so `t` counts from the first). */
function selected(expr: string): string[] {
  const f = parseFilter(expr);
  return Object.entries(events).filter(([, ev]) => f(ev)).map(([name]) => name);
}

describe('display filters', () => {
  it('addon selects what an addon did: any mark bare, one action by its name', () => {
    const marked = (ev: TapEvent, action: 'modified' | 'dropped' | 'injected'): TapEvent => ({ ...ev, addon: { action, by: 'x.mjs' } });
    const evs = [events.msg, marked(events.msg, 'modified'), marked(events.ack, 'injected'), { ...marked(events.open, 'dropped') }];
    const pick = (expr: string) => evs.map((ev, i) => (parseFilter(expr)(ev) ? i : -1)).filter((i) => i >= 0);
    assert.deepEqual(pick('addon'), [1, 2, 3]);
    assert.deepEqual(pick('addon == dropped'), [3]);
    assert.deepEqual(pick('addon == modified,injected'), [1, 2]);
    assert.deepEqual(pick('not addon'), [0]);
  });

  it('keep the old KEY=VALUES terms working', () => {
    assert.deepEqual(selected('type=MESSAGE*'), ['msg', 'ack', 'status']);
    assert.deepEqual(selected('type=MESSAGE,MESSAGE_ACK dir=c2s'), ['msg']);
    assert.deepEqual(selected('!dir=s2c conn=1'), ['hello', 'login', 'msg']);
    assert.deepEqual(selected('type!=HELLO,LOGIN2,OPEN conn=1-2'), ['msg', 'ack', 'status', 'away']);
    assert.deepEqual(selected('login=*@mail.ru'), ['msg', 'ack']);
  });

  it('test decoded fields: text, numbers, constant names, bits', () => {
    assert.deepEqual(selected('text contains "привет"'), ['msg', 'ack'], 'case does not matter');
    assert.deepEqual(selected('to == "bob@mail.ru"'), ['msg']);
    assert.deepEqual(selected('seq > 10'), ['msg', 'status']);
    assert.deepEqual(selected('status == AWAY'), ['login', 'away']);
    assert.deepEqual(selected('flags & UNICODE'), ['ack']);
    assert.deepEqual(selected('flags & 0x100000'), ['ack']);
    assert.deepEqual(selected('text matches "^При.*!$"'), ['msg', 'ack']);
    assert.deepEqual(selected('rtf'), ['msg'], 'a bare field: present and not empty');
  });

  it('test event properties: codes, versions, latencies, times, connections', () => {
    assert.deepEqual(selected('type == 0x1008'), ['msg']);
    assert.deepEqual(selected('proto >= 1.21'), ['ack', 'away']);
    assert.deepEqual(selected('latency > 100ms'), ['status']);
    assert.deepEqual(selected('latency > 1s'), []);
    assert.deepEqual(selected('t < 2s'), ['hello', 'login']);
    assert.deepEqual(selected('time >= 12:00:06'), ['away', 'open']);
    assert.deepEqual(selected('time == 12:00:02'), ['msg', 'ack', 'status'], 'a clock without milliseconds is the whole second');
    assert.deepEqual(selected('type == OPEN'), ['open']);
    assert.deepEqual(selected('conn == 3'), ['open']);
  });

  it('combine with and, or, not and parentheses', () => {
    assert.deepEqual(selected('type == HELLO or type == OPEN'), ['hello', 'open']);
    assert.deepEqual(selected('conn == 1 and not (type == HELLO || dir == s2c)'), ['login', 'msg']);
    assert.deepEqual(selected('(type == MESSAGE_ACK or type == MESSAGE) && text contains боб'), ['msg', 'ack']);
  });

  it('reject typos with the nearest known name, instead of selecting nothing', () => {
    const error = (expr: string) => {
      try {
        parseFilter(expr);
      } catch (e) {
        assert.ok(e instanceof FilterError, String(e));
        return e.message;
      }
      assert.fail(`"${expr}" was accepted`);
    };
    assert.match(error('type=LOGN2'), /unknown packet type "LOGN2" \(did you mean LOGIN2\?\)/);
    assert.match(error('type==X'), /unknown packet type "X"/);
    assert.match(error('type=NOSUCH*'), /no packet type matches "NOSUCH\*"/);
    assert.match(error('conn=5-3'), /range 5-3 is empty/);
    assert.match(error('txet contains a'), /unknown field "txet" \(did you mean text\?\)/);
    assert.match(error('status == AWYA'), /no constant "AWYA" \(did you mean AWAY\?\)|AWYA/);
    assert.match(error('seq >> 3'), /needs a value|expected/);
    assert.match(error('(type == HELLO'), /expected "\)"/);
    assert.match(error('text & 4'), /not a number/);
    assert.match(error('latency > soon'), /not a duration/);
    assert.match(error('dir == up'), /dir takes/);
  });

  it('lets everything through when empty', () => {
    assert.equal(selected('').length, Object.keys(events).length);
  });
});
