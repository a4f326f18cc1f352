/** `mrimtap redact`: no secret left in any encoding, and a copy that still decodes and replays with the substitute credentials. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createWriter, openCapture } from '../../src/capture/open.js';
import { redactCapture } from '../../src/capture/redact.js';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import { formatOfflineMessage, packRtf, plainTextRtf } from '../../src/protocol/formats.js';
import { SessionDecoder } from '../../src/protocol/session.js';
import { encodeString } from '../../src/protocol/text.js';
import { MrimServer } from '../../src/server/server.js';
import type { TapEvent } from '../../src/tap/events.js';
import { ROOT } from '../helpers/cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { loginAnswer } from '../helpers/net.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-redact-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const T = Date.UTC(2024, 5, 1);

const SECRETS = {
  plain: 'Plain-Pässwort-18',
  md5: 'Digest-Secret-23',
  mpop: 'mpop-session-key-0xC0FFEE',
  cookie: 'ua-session-cookie-42',
  socks: 'socks-pw-Zebra',
  voip: 'voip-password-Q7',
};
const MESSAGES = {
  cp1251: 'Тайное сообщение по-русски',
  utf16: 'Секретный текст в UTF-16',
  rtf: 'Only-in-the-RTF-part',
  offline: 'Offline-secret-letter',
};

/** Writes a capture of connections decoded from the bytes each side sent (as the proxy would record them). */
function writeCapture(path: string, conns: Array<Array<[number, 'c2s' | 's2c', Buffer]>>): void {
  const w = createWriter(path, { source: 'redact test', started: new Date(T) });
  conns.forEach((steps, i) => {
    const conn = i + 1;
    const client = { host: '127.0.0.1', port: 40000 + conn };
    const server = { host: '127.0.0.1', port: 2041 };
    const base = { conn, client, server };
    const decoder = new SessionDecoder();
    const bytes = { c2s: 0, s2c: 0 };
    w.write({ ...base, event: { kind: 'open', time: T, client, server } });
    const put = (events: ReturnType<SessionDecoder['push']>) => {
      for (const event of events) w.write({ ...base, ...(event.kind === 'frame' && event.login ? { login: event.login } : {}), event });
    };
    for (const [at, dir, data] of steps) {
      bytes[dir] += data.length;
      put(decoder.push(dir, data, T + at));
    }
    put(decoder.end('c2s', T + 99));
    w.write({ ...base, event: { kind: 'close', time: T + 100, bytes, durationMs: 100, reason: 'client closed first' } });
  });
  w.close();
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

/** Every way a secret could sit in a capture file: its bytes in each text encoding, as hex, as base64, its MD5. */
function searchForms(secret: string): Array<[string, string]> {
  const encodings: Array<[string, Buffer]> = [
    ['CP1251', encodeString(secret, 'cp1251')],
    ['UTF-16LE', encodeString(secret, 'utf16le')],
    ['UTF-8', Buffer.from(secret)],
    ['MD5', md5(encodeString(secret, 'cp1251'))],
  ];
  return encodings.flatMap(([name, b]) => [
    [name, b.toString('latin1')],
    [`${name} hex`, b.toString('hex')],
    [`${name} HEX`, b.toString('hex').toUpperCase()],
    // base64 at each alignment inside a longer text, without the characters that mix in neighbours.
    ...[0, 1, 2].map((pad): [string, string] => {
      const text = Buffer.concat([Buffer.alloc(pad), b]).toString('base64');
      return [`${name} base64`, text.slice(Math.ceil((pad * 4) / 3), Math.floor(((pad + b.length) * 4) / 3))];
    }),
  ]);
}

function leaksIn(file: string, secrets: string[]): string[] {
  const text = readFileSync(file).toString('latin1');
  return secrets.flatMap((s) => searchForms(s).filter(([, form]) => text.includes(form)).map(([how]) => `${s} as ${how}`));
}

async function eventsOf(path: string): Promise<TapEvent[]> {
  const out: TapEvent[] = [];
  for await (const e of (await openCapture(path)).entries) {
    assert.equal(e.kind, 'event', e.kind === 'problem' ? e.message : '');
    if (e.kind === 'event') out.push(e.event);
  }
  return out;
}

/** Per connection and direction, the bytes events carry follow each other without holes, and close counts them. */
function assertConsistentStreams(events: TapEvent[]): void {
  const next = new Map<string, number>();
  for (const { conn, event: ev } of events) {
    if (ev.kind === 'close') {
      assert.deepEqual(ev.bytes, { c2s: next.get(`${conn}c2s`) ?? 0, s2c: next.get(`${conn}s2c`) ?? 0 }, `#${conn} close`);
      continue;
    }
    if (!('dir' in ev) || !ev.dir || !('offset' in ev)) continue;
    const len = ev.kind === 'frame' ? ev.raw.length : (ev as { bytes: Buffer }).bytes.length;
    const key = `${conn}${ev.dir}`;
    assert.equal(ev.offset, next.get(key) ?? 0, `#${conn} ${ev.dir} ${ev.kind} offset`);
    next.set(key, ev.offset + len);
  }
}

describe('redact', () => {
  const input = join(dir, 'secrets.jsonl');
  const socksAuth = Buffer.concat([Buffer.from([1, 5]), Buffer.from('proxy'), Buffer.from([SECRETS.socks.length]), Buffer.from(SECRETS.socks)]);
  const login2 = (proto: string, seq: number, fields: object) => encodePacket('LOGIN2', { login: 'user18@mail.ru', status: 1, description: 'x', ...fields }, { proto, seq });
  writeCapture(input, [
    [
      [0, 'c2s', Buffer.from('050102', 'hex')],
      [1, 's2c', Buffer.from('0502', 'hex')],
      [2, 'c2s', socksAuth],
      [3, 's2c', Buffer.from('0100', 'hex')],
      [4, 'c2s', Buffer.from('050100017f00000107f9', 'hex')],
      [5, 's2c', Buffer.from('05000001000000000000', 'hex')],
      [6, 'c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 })],
      [7, 'c2s', login2('1.8', 2, { password: SECRETS.plain })],
      [8, 's2c', encodePacket('LOGIN_ACK', {}, { proto: '1.8', seq: 2 })],
      [9, 'c2s', encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: MESSAGES.cp1251, rtf: ' ' }, { proto: '1.8', seq: 3 })],
      [10, 's2c', encodePacket('MPOP_SESSION', { status: 1, session: SECRETS.mpop }, { proto: '1.8', seq: 4 })],
      // Cut off mid-frame by the end of the capture: garbage that still holds the password.
      [11, 'c2s', login2('1.8', 5, { password: SECRETS.plain }).subarray(0, 80)],
    ],
    [
      [0, 'c2s', encodePacket('HELLO', {}, { proto: '1.23', seq: 1 })],
      [1, 'c2s', encodePacket('LOGIN3', { login: 'user23@mail.ru', password: md5(encodeString(SECRETS.md5, 'cp1251')).toString('hex') }, { proto: '1.23', seq: 2 })],
      [2, 's2c', encodePacket('LOGIN_ACK', {}, { proto: '1.23', seq: 2 })],
      [3, 'c2s', login2('1.23', 3, { password: md5(Buffer.from('x')).toString('hex'), uaSession: SECRETS.cookie })],
      [4, 's2c', encodePacket('MESSAGE_ACK', { msgId: 1, flags: 0x80 | 0x100000, from: 'c@mail.ru', text: MESSAGES.utf16, rtf: packRtf(plainTextRtf(MESSAGES.rtf)) }, { proto: '1.23', seq: 4 })],
      [5, 's2c', encodePacket('OFFLINE_MESSAGE_ACK', { uidl: '0102030405060708', message: formatOfflineMessage({ from: 'd@mail.ru', date: new Date(T), flags: 0, text: MESSAGES.offline, unicode: true }) }, { proto: '1.23', seq: 5 })],
      [6, 's2c', encodePacket('VOIP_SESSION', { sessionId: 's1', password: SECRETS.voip, stun: 'stun.example:3478' }, { proto: '1.23', seq: 6 })],
    ],
  ]);

  it('the input holds every secret (so the search below means something)', () => {
    for (const s of [...Object.values(SECRETS).filter((s) => s !== SECRETS.md5), ...Object.values(MESSAGES).filter((m) => m !== MESSAGES.rtf)]) {
      assert.ok(leaksIn(input, [s]).length > 0, s);
    }
    // A capture holds it only in the frame's bytes (base64), the field being masked.
    assert.ok(leaksIn(input, [SECRETS.md5]).some((l) => l.includes('MD5 base64')));
  });

  it('--messages: no secret and no message text in the output, in any encoding', async () => {
    const output = join(dir, 'redacted.jsonl');
    const r = await runCli(['redact', input, '-o', output, '--messages']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /checked: none of the \d+ secrets appears in the file/);
    assert.equal(statSync(output).mode & 0o777, 0o600);
    assert.deepEqual(leaksIn(output, [...Object.values(SECRETS), ...Object.values(MESSAGES)]), []);
    assert.deepEqual(captureFileErrors(output), []);
  });

  it('the copy decodes as the original did, offsets and byte counts fixed up, with the substitute credentials', async () => {
    const output = join(dir, 'redacted-check.jsonl');
    assert.equal((await runCli(['redact', input, '-o', output, '--messages', '--substitute', 'letmein'])).code, 0);
    const before = await eventsOf(input);
    const afterwards = await eventsOf(output);
    assert.deepEqual(
      afterwards.map((e) => e.event.kind),
      before.map((e) => e.event.kind),
    );
    assertConsistentStreams(afterwards);
    const frames = afterwards.flatMap((e) => (e.event.kind === 'frame' ? [e.event.frame] : []));
    const originals = before.flatMap((e) => (e.event.kind === 'frame' ? [e.event.frame] : []));
    frames.forEach((f, i) => assert.deepEqual(f.warnings, originals[i]!.warnings, f.type));
    const [plain, digest, withCookie] = frames.filter((f) => f.type.startsWith('LOGIN') && f.type !== 'LOGIN_ACK');
    assert.equal(plain!.fields.password, 'letmein');
    assert.equal(digest!.fields.password, md5(Buffer.from('letmein')).toString('hex'));
    assert.equal(withCookie!.fields.uaSession, 'letmein');
    assert.equal(frames.find((f) => f.type === 'MPOP_SESSION')!.fields.session, 'letmein');
    const ack = frames.find((f) => f.type === 'MESSAGE_ACK')!;
    assert.equal(ack.fields.text, '[redacted]');
    assert.equal(ack.fields.rtf, ' ');
    const offline = frames.find((f) => f.type === 'OFFLINE_MESSAGE_ACK')!;
    assert.equal((offline.fields.parsed as { text: string; from: string }).text, '[redacted]');
    assert.equal((offline.fields.parsed as { from: string }).from, 'd@mail.ru');
    const socks = afterwards.find((e) => e.event.kind === 'socks' && e.event.message.type === 'auth')!.event;
    assert.ok(socks.kind === 'socks' && socks.message.type === 'auth' && socks.message.user === 'proxy');
    assert.deepEqual(socks.bytes, Buffer.concat([Buffer.from([1, 5]), Buffer.from('proxy'), Buffer.from([7]), Buffer.from('letmein')]));
  });

  it('without --messages the texts stay, the secrets go', async () => {
    const output = join(dir, 'secrets-only.jsonl');
    const r = await runCli(['redact', input, '-o', output]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leaksIn(output, Object.values(SECRETS)), []);
    assert.ok(leaksIn(output, [MESSAGES.utf16]).length > 0);
  });

  it('a secret kept elsewhere (a password sent as a message text too) is reported as a leak, exit code 1', async () => {
    const leaky = join(dir, 'leaky.jsonl');
    writeCapture(leaky, [
      [
        [0, 'c2s', encodePacket('LOGIN2', { login: 'u@mail.ru', password: 'Told-Everyone-1', status: 1, description: '' }, { proto: '1.8', seq: 1 })],
        [1, 'c2s', encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'Told-Everyone-1', rtf: ' ' }, { proto: '1.8', seq: 2 })],
      ],
    ]);
    const r = await runCli(['redact', leaky, '-o', join(dir, 'leaky-out.jsonl')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /LEAK: the password in LOGIN2 of u@mail\.ru is still in the file \(CP1251\)/);
    assert.match(r.stderr, /do not share this file/);
  });
});

describe('a redacted demo capture replays against a server that knows the substitute password', () => {
  it('each client connection, sent again frame by frame, logs in (plain password in 1.8, MD5 in 1.23)', async () => {
    const output = join(dir, 'demo-redacted.jsonl');
    const r = await runCli(['redact', join(ROOT, 'captures', 'demo.jsonl'), '-o', output, '--messages']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /note: the password in LOGIN2 of alice@mail\.ru is part of "alice@mail\.ru", which is kept/);
    const events = await eventsOf(output);
    const server = new MrimServer({
      port: 0,
      redirectorPort: false,
      users: ['alice@mail.ru', 'bob@mail.ru', 'carol@list.ru'].map((login) => ({ login, password: 'redacted' })),
    });
    const { port } = await server.listen();
    try {
      const conns = [...new Set(events.filter((e) => e.event.kind === 'frame').map((e) => e.conn))];
      for (const conn of conns) {
        const sent = events.flatMap((e) => (e.conn === conn && e.event.kind === 'frame' && e.event.dir === 'c2s' ? [e.event.raw] : []));
        const loginAt = sent.findIndex((raw) => decodeFrame(raw, { dir: 'c2s' }).type.startsWith('LOGIN'));
        assert.equal(await loginAnswer(port, sent.slice(0, loginAt + 1)), 'LOGIN_ACK', `connection #${conn}`);
      }
    } finally {
      await server.close();
    }
  });

  it('an addon mark\'s original bytes (a frame changed or dropped in flight) are redacted like the frame', async () => {
    const path = join(dir, 'addons.jsonl');
    const out = join(dir, 'addons.redacted.jsonl');
    const client = { host: '127.0.0.1', port: 40100 };
    const server = { host: '127.0.0.1', port: 2041 };
    const base = { conn: 1, client, server };
    const login = encodePacket('LOGIN2', { login: 'u@mail.ru', password: 'Addon-Dropped-Pw', status: 1, description: '' }, { proto: '1.8', seq: 1 });
    const secret = encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'Was-Secret-Before', rtf: ' ' }, { proto: '1.8', seq: 2 });
    const changed = encodePacket('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'shown instead', rtf: ' ' }, { proto: '1.8', seq: 2 });
    const w = createWriter(path, { source: 'redact test', started: new Date(T) });
    w.write({ ...base, event: { kind: 'open', time: T, client, server } });
    w.write({ ...base, event: { kind: 'note', time: T + 1, dir: 'c2s', level: 'info', message: 'LOGIN2 seq=1 not passed on' }, addon: { action: 'dropped', by: 'x.mjs', original: login } });
    const frame = decodeFrame(changed, { dir: 'c2s', minor: 8 });
    w.write({ ...base, event: { kind: 'frame', dir: 'c2s', offset: 0, time: T + 2, index: 0, raw: changed, frame }, addon: { action: 'modified', by: 'x.mjs', original: secret } });
    w.close();
    const result = await redactCapture(path, out, { messages: true });
    assert.deepEqual(result.leaks, []);
    const text = readFileSync(out, 'latin1');
    for (const s of ['Addon-Dropped-Pw', 'Was-Secret-Before']) {
      assert.ok(!text.includes(Buffer.from(s, 'latin1').toString('hex')) && !text.includes(s), s);
    }
    assert.deepEqual(captureFileErrors(out), []);
    const marks: TapEvent['addon'][] = [];
    for await (const entry of (await openCapture(out)).entries) if (entry.kind === 'event' && entry.event.addon) marks.push(entry.event.addon);
    assert.deepEqual(marks.map((m) => m?.action), ['dropped', 'modified']);
  });
});
