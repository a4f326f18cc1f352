/** Sequence diagrams as SVG, and the connection summaries that title them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import { summarize, type ConnectionInfo } from '../../src/render/connection.js';
import { sequenceDiagram, sessionsOf } from '../../src/render/diagram.js';
import type { TapEvent } from '../../src/tap/events.js';
import { tapSession } from '../helpers/tap-session.js';

/** Tags balance and attributes are quoted: the SVG parses (a browser renders the real file in test/web). */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
    const [, close, name, , selfClosing] = m;
    if (selfClosing) continue;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes ${stack.at(-1)}`);
    else stack.push(name);
  }
  assert.deepEqual(stack, []);
  const stripped = svg.replace(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g, '');
  assert.doesNotMatch(stripped, /[<>]|&(?!(amp|lt|gt|quot);)/, 'stray markup or unescaped entity in text');
  assert.doesNotMatch(svg, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'control characters are not XML');
}

const alice = () =>
  tapSession([
    ['c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }), 1],
    ['s2c', encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1 }), 3],
    ['c2s', encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'pidgin-mra 0.1.4' }, { proto: '1.8', seq: 2 }), 5],
    ['s2c', encodePacket('LOGIN_ACK', {}, { proto: '1.8', seq: 2 }), 13],
    // Five quiet seconds, then a message with markup and a control character in it.
    ['c2s', encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'a <b> & "c"\u0001', rtf: '' }, { proto: '1.8', seq: 3 }), 5013],
    ['s2c', Buffer.from('garbage!'), 5020],
  ]);

const rowsOf = (svg: string) => [...svg.matchAll(/<g class="row ([^"]+)"(?: data-id="(\d+)")?>/g)].map((m) => ({ classes: m[1], id: m[2] }));

describe('sequenceDiagram', () => {
  it('draws one arrow per frame, named, in its direction, with reply latencies', () => {
    const svg = sequenceDiagram(sessionsOf(alice().map((event, id) => ({ event, id }))));
    assertWellFormed(svg);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="\d+" height="\d+" viewBox=/);
    const frames = rowsOf(svg).filter((r) => r.classes.endsWith('frame'));
    assert.deepEqual(frames.map((r) => r.classes), ['c2s frame', 's2c frame', 'c2s frame', 's2c frame', 'c2s frame']);
    for (const name of ['HELLO seq=1', 'HELLO_ACK seq=1', 'LOGIN2 seq=2', 'LOGIN_ACK seq=2', 'MESSAGE seq=3']) assert.ok(svg.includes(`>${name} · `), name);
    assert.match(svg, /<tspan fill="#[0-9a-f]+">↩ LOGIN2 \+8 ms<\/tspan>/);
    assert.match(svg, /↩ HELLO \+2 ms/);
  });

  it('shows the connection opening and closing, non-frame events, and a long pause as a break', () => {
    const svg = sequenceDiagram(sessionsOf(alice().map((event) => ({ event }))));
    assert.match(svg, /class="row note connect"[^]*SOCKS5 CONNECT 127\.0\.0\.1:2041 → 0 succeeded/);
    assert.match(svg, /class="row note open"[^]*OPEN 127\.0\.0\.1:50001 ⇄ 127\.0\.0\.1:2041/);
    assert.match(svg, /class="row note close"[^]*CLOSE C→S/);
    assert.match(svg, /class="row s2c garbage"/);
    assert.match(svg, /⋯ 5\.0 s later ⋯/);
    assert.equal([...svg.matchAll(/ later ⋯/g)].length, 1, 'only the one pause over a second');
    assert.doesNotMatch(svg, /data-id=/, 'no ids given, none written');
  });

  it('titles each session from its connection summary and masks secrets in the field lines', () => {
    const svg = sequenceDiagram(sessionsOf(alice().map((event) => ({ event }))));
    assert.match(svg, />#1 · alice@mail\.ru · v1\.8 · pidgin-mra 0\.1\.4 · 5 frames · 5\.0 s · client closed first</);
    assert.match(svg, /password=\*{8} \(plaintext\)/);
    assert.doesNotMatch(svg, /hunter2/);
    assert.match(sequenceDiagram(sessionsOf(alice().map((event) => ({ event }))), { showSecrets: true }), /password=hunter2/);
    // Text from the wire is escaped; a control character that reaches the SVG unquoted is replaced.
    assert.ok(svg.includes('text=&quot;a &lt;b&gt; &amp; \\&quot;c\\&quot;\\u0001&quot;'));
    const events = alice();
    events.push({ ...events[0], event: { kind: 'note', time: events[0].event.time!, level: 'warn', message: 'odd <bytes>\u0001' } });
    const noted = sequenceDiagram(sessionsOf(events.map((event) => ({ event }))));
    assertWellFormed(noted);
    assert.ok(noted.includes('⚠ odd &lt;bytes&gt;\ufffd'));
  });

  it('stacks one panel per connection and tells what a window leaves out', () => {
    const events: TapEvent[] = [];
    tapSession([['c2s', encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }), 1]], { conn: 2, into: events });
    tapSession([['c2s', encodePacket('HELLO', {}, { proto: '1.23', seq: 1 }), 1]], { conn: 3, into: events });
    const sessions = sessionsOf(events.map((event, id) => ({ event, id })));
    assert.deepEqual(sessions.map((s) => s.entries[0].event.conn), [2, 3]);
    const svg = sequenceDiagram(sessions);
    assertWellFormed(svg);
    assert.deepEqual([...svg.matchAll(/<g class="session" data-conn="(\d+)">/g)].map((m) => m[1]), ['2', '3']);
    const window = sequenceDiagram([{ entries: sessions[0].entries.slice(1, 3), omittedBefore: 1, omittedAfter: 1 }]);
    assert.match(window, /⋯ 1 event before these ⋯[^]*⋯ 1 event after these ⋯/);
    assert.deepEqual(rowsOf(window).map((r) => r.id), ['1', '2']);
  });
});

describe('summarize', () => {
  it('follows a connection: peers, login, version and client from the login packet, frames, problems, the end', () => {
    let info: ConnectionInfo | undefined;
    for (const ev of alice()) info = summarize(info, ev);
    assert.deepEqual(info, {
      conn: 1,
      client: '127.0.0.1:50001',
      server: '127.0.0.1:2041',
      login: 'alice@mail.ru',
      proto: '1.8',
      userAgent: 'pidgin-mra 0.1.4',
      first: info!.first,
      last: info!.first + 5021,
      durationMs: 5021,
      frames: 5,
      warnings: 1,
      bytes: info!.bytes,
      state: 'closed',
      reason: 'client closed first',
    });
    const refused = summarize(undefined, { conn: 7, client: { host: '127.0.0.1', port: 1 }, event: { kind: 'connect', time: 0, client: { host: '127.0.0.1', port: 1 }, target: { host: 'mrim.mail.ru', port: 2042 }, reply: 5, error: 'ECONNREFUSED' } });
    assert.equal(refused.state, 'refused');
    assert.equal(refused.reason, 'SOCKS reply 5 (ECONNREFUSED)');
    assert.equal(refused.target, 'mrim.mail.ru:2042');
  });
});
