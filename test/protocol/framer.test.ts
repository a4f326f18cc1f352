// The streaming Framer (and SessionDecoder on top of it): reassembly from any chunking, resync after
// garbage, oversize frames skipped unbuffered, and what precedes or replaces MRIM on a connection —
// a SOCKS5 handshake, the redirector's answer, TLS after STARTTLS.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFrame, encodePacket } from '../../src/protocol/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, Framer, type FramerEvent, type FramerOptions } from '../../src/protocol/framer.js';
import { SessionDecoder, type SessionEvent } from '../../src/protocol/session.js';

const h = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const ascii = (text: string) => Buffer.from(text, 'latin1');

/** Pushes the chunks, then ends the stream; every event in order. */
function run(opts: FramerOptions, chunks: Buffer[], finish = true): { events: FramerEvent[]; framer: Framer } {
  const framer = new Framer(opts);
  const events: FramerEvent[] = [];
  for (const chunk of chunks) events.push(...framer.push(chunk));
  if (finish) events.push(...framer.finish());
  return { events, framer };
}

/** The stream cut into pieces of `size` bytes. */
function chunked(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

/** Events as plain data (bytes as hex) for comparisons. */
const plain = (events: FramerEvent[]) =>
  events.map((ev) => {
    const { frame, bytes, ...rest } = ev as FramerEvent & { frame?: Buffer; bytes?: Buffer };
    return { ...rest, ...(frame ? { frame: frame.toString('hex') } : {}), ...(bytes ? { bytes: bytes.toString('hex') } : {}) };
  });

const kinds = (events: { kind: string }[]) => events.map((e) => e.kind);

const c2sFrames = [
  encodePacket('HELLO', {}, { proto: '1.21', seq: 1 }),
  encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'secret', status: 1, statusUri: 'STATUS_ONLINE', statusTitle: 'В сети', statusDesc: '', features: 0x3ff, userAgent: 'client="mrimtap"', lang: 'ru', uaSession: '', replacedUaSession: '', description: 'mrimtap' }, { proto: '1.21', seq: 2 }),
  encodePacket('PING', {}, { proto: '1.21', seq: 3 }),
  encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет Ω ✓ 日本', rtf: ' ' }, { proto: '1.21', seq: 4 }),
];
const c2sStream = Buffer.concat(c2sFrames);

describe('Framer: reassembly', () => {
  for (const size of [1, 2, 3, 7, 44, 45, 100, c2sStream.length]) {
    it(`frames out of ${size === c2sStream.length ? 'one big chunk' : `${size}-byte chunks`}`, () => {
      const { events, framer } = run({ dir: 'c2s' }, chunked(c2sStream, size));
      assert.deepEqual(kinds(events), ['frame', 'frame', 'frame', 'frame']);
      let offset = 0;
      events.forEach((ev, i) => {
        assert.ok(ev.kind === 'frame');
        assert.ok(ev.frame.equals(c2sFrames[i]), `frame ${i}`);
        assert.equal(ev.offset, offset);
        offset += c2sFrames[i].length;
      });
      assert.equal(framer.pending, 0);
      assert.equal(decodeFrame((events[3] as { frame: Buffer }).frame, { dir: 'c2s' }).fields.text, 'Привет Ω ✓ 日本');
    });
  }

  it('a frame is emitted as soon as its last byte arrives, not later', () => {
    const framer = new Framer({ dir: 'c2s' });
    const frame = c2sFrames[1];
    assert.deepEqual([...framer.push(frame.subarray(0, frame.length - 1))], []);
    assert.equal(framer.pending, frame.length - 1);
    const [ev] = [...framer.push(frame.subarray(frame.length - 1))];
    assert.ok(ev.kind === 'frame' && ev.frame.equals(frame));
  });

  it('emitted frames are copies: later chunks do not overwrite them', () => {
    const framer = new Framer({ dir: 'c2s' });
    const [first] = [...framer.push(c2sFrames[0])];
    [...framer.push(c2sFrames[1])];
    assert.ok(first.kind === 'frame' && first.frame.equals(c2sFrames[0]));
  });
});

describe('Framer: resynchronisation after garbage', () => {
  const junk1 = ascii('GARBAGE!');
  const junk2 = h('ef be ad 00 01 02 ef be'); // false starts of a magic
  const stream = Buffer.concat([junk1, c2sFrames[0], junk2, c2sFrames[2], c2sFrames[3]]);
  for (const size of [1, 3, 5, stream.length]) {
    it(`garbage before and between frames, ${size === stream.length ? 'one chunk' : `${size}-byte chunks`}: one garbage event each, with the skipped bytes`, () => {
      const { events } = run({ dir: 'c2s', detectPreamble: false }, chunked(stream, size));
      assert.deepEqual(kinds(events), ['garbage', 'frame', 'garbage', 'frame', 'frame']);
      const [g1, , g2] = events as Extract<FramerEvent, { kind: 'garbage' }>[];
      assert.deepEqual([g1.offset, g1.bytes.toString('hex'), g1.reason], [0, junk1.toString('hex'), 'bad magic: skipped to the next frame']);
      assert.deepEqual([g2.offset, g2.bytes.length], [junk1.length + c2sFrames[0].length, junk2.length]);
      assert.ok(g2.bytes.equals(junk2));
    });
  }

  it('garbage at the end of the stream is reported by finish()', () => {
    const { events } = run({ dir: 'c2s', detectPreamble: false }, [c2sFrames[0], ascii('trailing junk')]);
    assert.deepEqual(kinds(events), ['frame', 'garbage']);
    assert.equal((events[1] as { reason: string }).reason, 'bad magic: no frame start before the end of the stream');
  });

  it('endless garbage is reported in parts, never held beyond 64 KiB', () => {
    const framer = new Framer({ dir: 'c2s', detectPreamble: false });
    let reported = 0;
    let maxPending = 0;
    for (let i = 0; i < 64; i++) {
      for (const ev of framer.push(Buffer.alloc(16 * 1024, 0x41))) reported += (ev as { bytes: Buffer }).bytes.length;
      maxPending = Math.max(maxPending, framer.pending);
    }
    assert.ok(maxPending <= 64 * 1024 + 16 * 1024, `pending ${maxPending}`);
    assert.equal(reported + framer.pending, 64 * 16 * 1024);
  });
});

describe('Framer: oversize frames', () => {
  const oversize = (dlen: number) => {
    const header = encodePacket('MESSAGE_ACK', {}, { proto: '1.21', seq: 9 }).subarray(0, 44);
    header.writeUInt32LE(dlen, 16);
    return header;
  };
  const next = encodePacket('MAILBOX_STATUS', { unread: 3 }, { proto: '1.21', seq: 10 });

  for (const size of [1, 10, 4096, 1 << 20]) {
    it(`a dlen above the configured limit is reported once and its payload skipped (${size}-byte chunks); the next frame decodes`, () => {
      const payload = Buffer.alloc(5000, 0x55);
      const stream = Buffer.concat([oversize(5000), payload, next]);
      const framer = new Framer({ dir: 's2c', maxFrameSize: 1000 });
      const events: FramerEvent[] = [];
      let maxPending = 0;
      for (const chunk of chunked(stream, size)) {
        events.push(...framer.push(chunk));
        maxPending = Math.max(maxPending, framer.pending);
      }
      assert.deepEqual(kinds(events), ['garbage', 'frame']);
      const g = events[0] as Extract<FramerEvent, { kind: 'garbage' }>;
      assert.deepEqual([g.offset, g.bytes.length, g.skipped], [0, 44, 5000]);
      assert.match(g.reason, /dlen 5000 > limit 1000/);
      assert.equal(events[1].offset, 44 + 5000);
      assert.deepEqual(decodeFrame((events[1] as { frame: Buffer }).frame, { dir: 's2c' }).fields, { unread: 3 });
      assert.ok(maxPending <= Math.max(size, 44) + next.length, `held ${maxPending} bytes`);
    });
  }

  it('the default limit is 1 MiB: 1 MiB passes, one byte more is skipped', () => {
    assert.equal(DEFAULT_MAX_FRAME_SIZE, 1024 * 1024);
    const atLimit = Buffer.concat([oversize(DEFAULT_MAX_FRAME_SIZE), Buffer.alloc(DEFAULT_MAX_FRAME_SIZE)]);
    assert.deepEqual(kinds(run({ dir: 's2c' }, [atLimit]).events), ['frame']);
    const over = Buffer.concat([oversize(DEFAULT_MAX_FRAME_SIZE + 1), Buffer.alloc(DEFAULT_MAX_FRAME_SIZE + 1), next]);
    assert.deepEqual(kinds(run({ dir: 's2c' }, [over]).events), ['garbage', 'frame']);
  });

  it('the stream ending inside a skipped payload leaves nothing pending', () => {
    const { events, framer } = run({ dir: 's2c', maxFrameSize: 10 }, [oversize(100), Buffer.alloc(30)]);
    assert.deepEqual(kinds(events), ['garbage']);
    assert.deepEqual([framer.pending, framer.skipping], [0, 70]);
  });
});

describe('Framer: SOCKS5 handshake at the start of a stream', () => {
  const hello = c2sFrames[0];
  const helloAck = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.21' });
  const greeting = h('05 02 00 02');
  const auth = Buffer.concat([h('01 05'), ascii('alice'), h('06'), ascii('s3cret')]);
  const requests = {
    ipv4: { bytes: h('05 01 00 01 5e 64 b4 c7 07 f9'), host: '94.100.180.199', port: 2041 },
    domain: { bytes: Buffer.concat([h('05 01 00 03 0c'), ascii('mrim.mail.ru'), h('07 fa')]), host: 'mrim.mail.ru', port: 2042 },
    ipv6: { bytes: h('05 01 00 04 20010db8000000000000000000000001 01bb'), host: '2001:db8:0:0:0:0:0:1', port: 443 },
  };

  for (const [atyp, req] of Object.entries(requests)) {
    it(`client: greeting, username/password, CONNECT (${atyp}), then MRIM — in one chunk and byte by byte`, () => {
      const stream = Buffer.concat([greeting, auth, req.bytes, hello]);
      for (const size of [stream.length, 1]) {
        const { events } = run({ dir: 'c2s' }, chunked(stream, size));
        assert.deepEqual(kinds(events), ['socks', 'socks', 'socks', 'frame']);
        const messages = events.slice(0, 3).map((e) => (e as Extract<FramerEvent, { kind: 'socks' }>).message);
        assert.deepEqual(messages, [
          { type: 'greeting', methods: ['no-auth', 'username/password'] },
          { type: 'auth', user: 'alice', password: 's3cret' },
          { type: 'request', command: 'CONNECT', host: req.host, port: req.port, atyp },
        ]);
        assert.deepEqual(events.map((e) => e.offset), [0, greeting.length, greeting.length + auth.length, stream.length - hello.length]);
      }
    });
  }

  it('client without authentication: greeting then CONNECT', () => {
    const { events } = run({ dir: 'c2s' }, [h('05 01 00'), requests.ipv4.bytes, hello]);
    assert.deepEqual(kinds(events), ['socks', 'socks', 'frame']);
  });

  it('server: method choice, auth reply, CONNECT reply, then MRIM', () => {
    const stream = Buffer.concat([h('05 02'), h('01 00'), h('05 00 00 01 7f 00 00 01 30 39'), helloAck]);
    for (const size of [stream.length, 1]) {
      const { events } = run({ dir: 's2c' }, chunked(stream, size));
      assert.deepEqual(kinds(events), ['socks', 'socks', 'socks', 'frame']);
      assert.deepEqual(
        events.slice(0, 3).map((e) => (e as Extract<FramerEvent, { kind: 'socks' }>).message),
        [
          { type: 'method', method: 'username/password' },
          { type: 'auth-reply', ok: true, status: 0 },
          { type: 'reply', reply: 'succeeded', code: 0, host: '127.0.0.1', port: 12345, atyp: 'ipv4' },
        ],
      );
    }
  });

  it('server: no-auth method, then a failed CONNECT reply (domain and IPv6 bound addresses)', () => {
    const domain = Buffer.concat([h('05 00'), h('05 05 00 03 09'), ascii('localhost'), h('00 50')]);
    const { events } = run({ dir: 's2c' }, [domain]);
    assert.deepEqual(kinds(events), ['socks', 'socks']);
    assert.deepEqual((events[1] as Extract<FramerEvent, { kind: 'socks' }>).message, { type: 'reply', reply: 'connection refused', code: 5, host: 'localhost', port: 80, atyp: 'domain' });
    const v6 = run({ dir: 's2c' }, [h('05 00 05 00 00 04 00000000000000000000000000000001 0050'), helloAck]).events;
    assert.deepEqual(kinds(v6), ['socks', 'socks', 'frame']);
    assert.equal((v6[1] as Extract<FramerEvent, { kind: 'socks' }>).message.type === 'reply' && (v6[1] as { message: { host: string } }).message.host, '0:0:0:0:0:0:0:1');
  });

  it('the SOCKS connection to the redirector: handshake, then the ip:port answer', () => {
    const { events } = run({ dir: 's2c' }, [h('05 00 05 00 00 01 7f 00 00 01 07 fa'), ascii('127.0.0.1:2041\n')]);
    assert.deepEqual(kinds(events), ['socks', 'socks', 'redirect']);
  });

  it('an incomplete handshake at the end of the stream is garbage', () => {
    const { events } = run({ dir: 'c2s' }, [h('05 02 00')]);
    assert.deepEqual(kinds(events), ['garbage']);
    assert.match((events[0] as { reason: string }).reason, /incomplete SOCKS5 greeting/);
  });
});

describe("Framer: the redirector's plain-text answer", () => {
  const endings: [string, Buffer, boolean][] = [
    ['\\n', ascii('94.100.180.199:2041\n'), false],
    ['\\r\\n', ascii('94.100.180.199:2041\r\n'), false],
    ['NUL', ascii('94.100.180.199:2041\0'), false],
    ['EOF', ascii('94.100.180.199:2041'), true],
  ];
  for (const [name, bytes, needsEnd] of endings) {
    it(`ip:port ended by ${name}`, () => {
      for (const size of [bytes.length, 1]) {
        const framer = new Framer({ dir: 's2c' });
        const events: FramerEvent[] = [];
        for (const chunk of chunked(bytes, size)) events.push(...framer.push(chunk));
        assert.equal(events.length, needsEnd ? 0 : 1, 'complete before the end of the stream');
        events.push(...framer.finish());
        assert.equal(events.length, 1);
        const ev = events[0];
        assert.ok(ev.kind === 'redirect');
        assert.deepEqual([ev.address, ev.host, ev.port, ev.offset], ['94.100.180.199:2041', '94.100.180.199', 2041, 0]);
        assert.ok(ev.bytes.equals(bytes));
      }
    });
  }

  it('host names are answers too', () => {
    const [ev] = run({ dir: 's2c' }, [ascii('proto.mrim.su:2041\n')]).events;
    assert.ok(ev.kind === 'redirect' && ev.host === 'proto.mrim.su' && ev.port === 2041);
  });

  it('printable bytes that are no ip:port are garbage, and MRIM after them still decodes', () => {
    const { events } = run({ dir: 's2c' }, [ascii('hello there\n'), encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8' })]);
    assert.deepEqual(kinds(events), ['garbage', 'frame']);
  });
});

describe('Framer and SessionDecoder: TLS after STARTTLS / OK', () => {
  const clientHello = h('16 03 01 00 05 01 00 00 01 00');
  const serverHello = h('16 03 03 00 04 02 00 00 00');
  const appData = h('17 03 03 00 03 aa bb cc');
  const starttls = encodePacket('STARTTLS', {}, { proto: '1.23', seq: 2 });
  const ok = encodePacket('OK', {}, { proto: '1.23', seq: 2 });
  const hello = encodePacket('HELLO', {}, { proto: '1.23', seq: 1 });
  const helloAck = encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.23', seq: 0 });

  it('the framer alone: a TLS record after STARTTLS (client) or OK (server) switches to tls', () => {
    for (const size of [1, 1000]) {
      const client = run({ dir: 'c2s' }, chunked(Buffer.concat([hello, starttls, clientHello, appData]), size)).events;
      assert.deepEqual(kinds(client).slice(0, 2), ['frame', 'frame']);
      const tls = client.slice(2) as Extract<FramerEvent, { kind: 'tls' }>[];
      assert.ok(tls.length >= 1 && tls.every((e) => e.kind === 'tls'));
      assert.deepEqual(tls.map((e) => e.start), tls.map((_, i) => i === 0));
      assert.equal(tls[0].offset, hello.length + starttls.length);
      assert.equal(Buffer.concat(tls.map((e) => e.bytes)).toString('hex'), Buffer.concat([clientHello, appData]).toString('hex'));
      const server = run({ dir: 's2c' }, chunked(Buffer.concat([helloAck, ok, serverHello]), size)).events;
      assert.deepEqual(kinds(server).slice(0, 2), ['frame', 'frame']);
      assert.equal(Buffer.concat(server.slice(2).map((e) => (e as { bytes: Buffer }).bytes)).toString('hex'), serverHello.toString('hex'));
    }
  });

  it('TLS bytes in the same chunk as the OK come out of that push, and out of finish()', () => {
    const framer = new Framer({ dir: 's2c' });
    const events = [...framer.push(Buffer.concat([helloAck, ok, serverHello]))];
    assert.deepEqual(kinds(events), ['frame', 'frame', 'tls']);
    assert.equal(framer.pending, 0);
    const ending = new Framer({ dir: 'c2s' });
    [...ending.push(Buffer.concat([hello, starttls]))];
    assert.deepEqual(kinds([...ending.push(clientHello.subarray(0, 3))]), []);
    assert.deepEqual(kinds([...ending.finish()]), ['garbage'], 'three bytes cannot tell a TLS record');
    const late = new Framer({ dir: 'c2s', detectPreamble: false });
    assert.deepEqual(kinds([...late.push(Buffer.concat([hello, starttls]))]), ['frame', 'frame']);
    assert.deepEqual(kinds([...late.finish()]), []);
  });

  it('without STARTTLS a 16 03 prefix is garbage, not TLS', () => {
    const { events } = run({ dir: 'c2s' }, [hello, clientHello, c2sFrames[2]]);
    assert.deepEqual(kinds(events), ['frame', 'garbage', 'frame']);
  });

  it('SessionDecoder: both directions switch after the server accepted STARTTLS', () => {
    const s = new SessionDecoder();
    const events: SessionEvent[] = [
      ...s.push('c2s', Buffer.concat([hello, starttls])),
      ...s.push('s2c', Buffer.concat([helloAck, ok, serverHello])),
      ...s.push('c2s', Buffer.concat([clientHello, appData])),
      ...s.push('s2c', appData),
      ...s.end('c2s'),
      ...s.end('s2c'),
    ];
    assert.deepEqual(
      events.map((e) => `${e.dir} ${e.kind === 'frame' ? e.frame.type : e.kind}`),
      ['c2s HELLO', 'c2s STARTTLS', 's2c HELLO_ACK', 's2c OK', 's2c tls', 'c2s tls', 's2c tls'],
    );
    assert.equal(s.tls, true);
    const ackEvent = events[3] as Extract<SessionEvent, { kind: 'frame' }>;
    assert.equal(ackEvent.replyTo?.type, 'STARTTLS');
    const tls = events.filter((e) => e.kind === 'tls') as Extract<SessionEvent, { kind: 'tls' | 'compressed' }>[];
    assert.deepEqual(tls.map((e) => e.start), [true, true, false]);
  });

  it('SessionDecoder: after FAILURE the session stays cleartext', () => {
    const s = new SessionDecoder();
    const failure = encodePacket('FAILURE', {}, { proto: '1.23', seq: 2 });
    const login = encodePacket('LOGIN3', { login: 'a@mail.ru', password: '00112233445566778899aabbccddeeff', features: 0xbff, userAgent: '', lang: 'ru', uaDataNames: ['geo-list'], description: 'x' }, { proto: '1.23', seq: 3 });
    const events = [
      ...s.push('c2s', Buffer.concat([hello, starttls])),
      ...s.push('s2c', Buffer.concat([helloAck, failure])),
      ...s.push('c2s', login),
    ];
    assert.deepEqual(kinds(events), ['frame', 'frame', 'frame', 'frame', 'frame']);
    assert.equal(s.tls, false);
  });
});

describe('Framer: finish() leftovers', () => {
  const frame = c2sFrames[1];
  it('an incomplete header', () => {
    const { events } = run({ dir: 'c2s' }, [frame.subarray(0, 20)]);
    assert.deepEqual(plain(events), [{ kind: 'garbage', offset: 0, bytes: frame.subarray(0, 20).toString('hex'), reason: 'incomplete header at end of stream' }]);
  });

  it('an incomplete frame, after a complete one', () => {
    const { events, framer } = run({ dir: 'c2s' }, [c2sFrames[0], frame.subarray(0, 60)]);
    assert.deepEqual(kinds(events), ['frame', 'garbage']);
    assert.equal((events[1] as { reason: string }).reason, `incomplete frame at end of stream (60 of ${frame.length} bytes)`);
    assert.equal(events[1].offset, c2sFrames[0].length);
    assert.equal(framer.pending, 0);
  });

  it('nothing left: no event', () => {
    assert.deepEqual(run({ dir: 'c2s' }, [c2sStream]).events.length, c2sFrames.length);
    assert.deepEqual(run({ dir: 's2c' }, []).events, []);
  });
});
