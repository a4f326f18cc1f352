// Real traffic of third-party clients (pidgin-mra 1.8, mrim-prpl 1.22): every frame decodes with no
// warning (the real quirks are notes), and re-encodes byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { reencode } from '../../src/protocol/codec.js';
import { SessionDecoder, type SessionEvent } from '../../src/protocol/session.js';

const dir = new URL('../fixtures/vectors/', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, dir));

type Frame = Extract<SessionEvent, { kind: 'frame' }>;

/** Decodes a whole connection in capture order (as the proxy would), both directions. */
function decodeConnection(prefix: string): Frame[] {
  const s = new SessionDecoder();
  const events = [...s.push('c2s', read(`${prefix}.c2s.bin`)), ...s.push('s2c', read(`${prefix}.s2c.bin`)), ...s.end('c2s'), ...s.end('s2c')];
  for (const ev of events) assert.equal(ev.kind, 'frame', `unexpected ${ev.kind} event in ${prefix}`);
  return events as Frame[];
}

/** Real peers' known quirks: notes, never warnings (a clean session of real peers warns about nothing). */
const KNOWN_NOTES: Record<string, RegExp> = {
  LOGIN2: /^20 trailing bytes ignored \(pidgin-mra/, // pidgin-mra appends 5 zero ULs
  MESSAGE_ACK: /^12 trailing bytes ignored \(revival servers/, // the revival server appends 12 zero bytes
};

function checkFrames(frames: Frame[]) {
  for (const ev of frames) {
    assert.deepEqual(ev.frame.warnings, [], `${ev.frame.type} seq=${ev.frame.seq}`);
    for (const n of ev.frame.notes) assert.match(n, KNOWN_NOTES[ev.frame.type] ?? /^$/, `${ev.frame.type} seq=${ev.frame.seq}: ${n}`);
    assert.ok(!ev.frame.type.startsWith('UNKNOWN'), ev.frame.type);
    assert.deepEqual(reencode(ev.frame).toString('hex'), ev.raw.toString('hex'), `${ev.frame.type} re-encodes byte for byte`);
  }
}

describe('pidgin-mra 1.8 session (real capture)', () => {
  const alice = decodeConnection('pidgin-mra-1.8.conn1');
  const bob = decodeConnection('pidgin-mra-1.8.conn2');

  it('decodes every frame with no warning, re-encodes byte-exact, notes only the real quirks', () => {
    checkFrames(alice);
    checkFrames(bob);
  });

  it('reads LOGIN2 1.8 with a plaintext password and the trailing zeros', () => {
    const login = alice.find((e) => e.frame.type === 'LOGIN2')!.frame;
    assert.equal(login.proto, '1.8');
    assert.equal(login.fields.login, 'alice@mail.ru');
    assert.equal(login.enc.password, undefined, 'plaintext CP1251 password');
    assert.equal(login.fields.status, 1);
    assert.equal(login.trailing, '00'.repeat(20));
    assert.equal(login.notes.length, 1);
  });

  it('reads the CP1251 message bob sends and alice receives', () => {
    const sent = bob.find((e) => e.frame.type === 'MESSAGE')!.frame;
    assert.equal(sent.fields.to, 'alice@mail.ru');
    assert.equal(sent.fields.text, 'Привет, Alice! hello from bob');
    assert.equal(sent.fields.rtf, ' ');
    const got = alice.find((e) => e.frame.type === 'MESSAGE_ACK')!.frame;
    assert.equal(got.fields.text, 'Привет, Alice! hello from bob');
    assert.equal(got.fields.from, 'bob@mail.ru');
  });

  it('correlates replies: LOGIN_ACK → LOGIN2, MESSAGE_STATUS → MESSAGE, MESSAGE_RECV → MESSAGE_ACK', () => {
    assert.equal(alice.find((e) => e.frame.type === 'LOGIN_ACK')!.replyTo?.type, 'LOGIN2');
    assert.equal(alice.find((e) => e.frame.type === 'HELLO_ACK')!.replyTo?.type, 'HELLO');
    const status = bob.find((e) => e.frame.type === 'MESSAGE_STATUS')!;
    assert.equal(status.replyTo?.type, 'MESSAGE');
    assert.equal(status.frame.fields.status, 0);
  });

  it('correlates MESSAGE_RECV with the MESSAGE_ACK it acknowledges (by msg_id, across the big unrelated seq)', () => {
    const s = new SessionDecoder();
    s.push('s2c', read('pidgin-mra-1.8.conn1.s2c.bin'));
    const events = s.push('c2s', read('pidgin-mra-1.8.conn1.c2s.bin')) as Frame[];
    assert.equal(events.find((e) => e.frame.type === 'MESSAGE_RECV')!.replyTo?.type, 'MESSAGE_ACK');
  });
});

describe('mrim-prpl 1.22 session (real capture)', () => {
  const conns = [2, 4].map((n) => decodeConnection(`mrim-prpl-1.22.conn${n}`));
  const frames = conns.flat();

  it('decodes every frame with no warning, re-encodes byte-exact, notes only the real quirks', () => {
    checkFrames(frames);
  });

  it('reads LOGIN2 1.22 with an MD5 password and the ≥1.20 layout', () => {
    const login = frames.find((e) => e.frame.type === 'LOGIN2')!.frame;
    assert.equal(login.proto, '1.22');
    assert.match(String(login.fields.password), /^[0-9a-f]{32}$/);
    assert.equal(login.fields.lang, 'ru');
    assert.equal(login.fields.uaSession, '');
    assert.equal(login.fields.description, 'mrim-prpl');
  });

  it('reads UTF-16LE text outside CP1251, typing notifications and UTF-16 group names', () => {
    const texts = frames.filter((e) => e.frame.type === 'MESSAGE_ACK').map((e) => String(e.frame.fields.text));
    assert.ok(texts.some((t) => t.includes('Ω ✓ 日本')));
    const typing = frames.find((e) => e.frame.type === 'MESSAGE' && e.frame.fields.flags === 0x404);
    assert.ok(typing, 'typing notification');
    const groups = frames.filter((e) => e.frame.type === 'CONTACT_LIST2').flatMap((e) => (e.frame.fields.groups as { name: string }[]) ?? []);
    assert.ok(groups.some((g) => g.name === 'Знакомые'));
  });

  it('unpacks the alarm RTF (base64 of zlib) into an RTF document', () => {
    const alarm = frames.find((e) => e.frame.type === 'MESSAGE_ACK' && (Number(e.frame.fields.flags) & 0x4000) !== 0)!.frame;
    const rtf = alarm.fields.rtfUnpacked as { rtf: string; parts: number };
    assert.equal(rtf.parts, 2);
    assert.match(rtf.rtf, /^\{\\rtf1/);
  });

  it('recognises the redirector exchange: the HTTP-style request and the ip:port answer', () => {
    const s = new SessionDecoder();
    const [request] = s.push('c2s', read('mrim-prpl-1.22.conn1.c2s.bin'));
    const [answer] = s.push('s2c', read('mrim-prpl-1.22.conn1.s2c.bin'));
    assert.equal(request.kind, 'redirect');
    assert.equal(request.kind === 'redirect' && request.text, 'GET 127.0.0.1:12042 HTTP/1.0');
    assert.ok(answer.kind === 'redirect' && answer.host === '127.0.0.1' && answer.port === 12041);
    assert.deepEqual([...s.end('c2s'), ...s.end('s2c')], []);
  });
});
