import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  CaptureFormatError,
  parseCapture,
  readPcapFile,
  streamBytes,
  type TcpConnection,
} from '../../src/capture/pcap/index.js';
import { readCaptureRecords } from '../../src/capture/pcap/file.js';
import { LINKTYPE, TCP_FLAG, decodeTcpPacket, type TcpSegment } from '../../src/capture/pcap/packet.js';
import { reassembleTcp } from '../../src/capture/pcap/reassembly.js';
import { Pcapng, afHeader, ethernet, ipPacket, ipv4, pcap, sll, sll2, type Rec } from '../helpers/pcap-builder.js';

const vectorsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'vectors');
const { SYN, ACK, FIN, RST, PSH } = TCP_FLAG;

const CLIENT = { addr: '10.0.0.1', port: 50000 };
const SERVER = { addr: '10.0.0.2', port: 2041 };

/** A TcpSegment for reassembleTcp, client to server unless `dir` says otherwise. */
function seg(
  time: number,
  seq: number,
  flags: number,
  payload: string | Uint8Array = '',
  dir: 'c2s' | 's2c' = 'c2s',
): TcpSegment {
  const data = Buffer.from(payload);
  return {
    time,
    src: dir === 'c2s' ? CLIENT : SERVER,
    dst: dir === 'c2s' ? SERVER : CLIENT,
    seq: seq >>> 0,
    ack: 0,
    flags,
    payload: data,
    payloadLength: data.length,
  };
}

function frameCount(stream: Buffer): number {
  let n = 0;
  let off = 0;
  while (off + 44 <= stream.length && stream.readUInt32LE(off) === 0xdeadbeef) {
    off += 44 + stream.readUInt32LE(off + 16);
    if (off > stream.length) break;
    n++;
  }
  return n;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// ---------------------------------------------------------------------------------------------
// Real captures. Expected values were checked independently with tcpdump -r, tshark
// (-z conv,tcp and -z follow,tcp,raw,N) and a separate frame walk over tshark's streams.

interface Expected {
  client: number;
  server: number;
  c2s: { bytes: number; frames: number; sha256: string };
  s2c: { bytes: number; frames: number; sha256: string };
}

const REAL: Record<string, { packets: number; startTime: number; conns: Expected[] }> = {
  'pidgin-mra-1.8-session.pcap': {
    packets: 36,
    startTime: 1795617973955.347,
    conns: [
      {
        client: 34378,
        server: 12041,
        c2s: { bytes: 223, frames: 3, sha256: 'd81dabb7054b5809a159666a8065295e31d3ac77199ab933b4ce1b9202398f18' },
        s2c: { bytes: 514, frames: 5, sha256: '79075aba959bf94ff2df7fe80215b8f6ebd1c3b97a45fd523b5b251b5d4c310e' },
      },
      {
        client: 34390,
        server: 12041,
        c2s: { bytes: 259, frames: 3, sha256: '0a923795f2cf68ae69f267f6aed36a36612baa958b22b1fa2b119e7bb27f3ea4' },
        s2c: { bytes: 443, frames: 5, sha256: '998e99689c862138a4436041f4d3fb77fa57fa61f36ea4d88a94fb4efab89813' },
      },
    ],
  },
  'mrim-prpl-1.22-messages.pcap': {
    packets: 96,
    startTime: 1795621802992.626,
    conns: [
      {
        client: 34106,
        server: 12042,
        c2s: { bytes: 81, frames: 0, sha256: 'e9162dd0eafb7d2ce338926b1de33bf78f960f4ed2eaf84833fa73fc0f0d5426' },
        s2c: { bytes: 16, frames: 0, sha256: 'd9a3868ae7b81296606a0bfdd651ffb535e9b07951c57e4b5fe78d0261e06a0e' },
      },
      {
        client: 34794,
        server: 12041,
        c2s: { bytes: 846, frames: 9, sha256: '92f6d0e5a7c60fef918af44af92b8c29794283874b4c3fea7301e952ddbc252c' },
        s2c: { bytes: 1960, frames: 10, sha256: '49be3c1e33c4fc59976caf585515eeb0f746c983943519737e7793111b9ae8f9' },
      },
      {
        client: 34112,
        server: 12042,
        c2s: { bytes: 81, frames: 0, sha256: 'e9162dd0eafb7d2ce338926b1de33bf78f960f4ed2eaf84833fa73fc0f0d5426' },
        s2c: { bytes: 16, frames: 0, sha256: 'd9a3868ae7b81296606a0bfdd651ffb535e9b07951c57e4b5fe78d0261e06a0e' },
      },
      {
        client: 34802,
        server: 12041,
        c2s: { bytes: 1779, frames: 9, sha256: '7d4b2c6f70a6a790801ee9965a73187230a83a430f53ed26c4c81a301f1ade93' },
        s2c: { bytes: 1096, frames: 10, sha256: '5ee6cdca3f605ab2890b5c01723247111a5048cda41bc42cdfa07f86e19d1679' },
      },
    ],
  },
};

describe('real captures', () => {
  for (const [file, exp] of Object.entries(REAL)) {
    it(`${file}: connections, byte counts and MRIM frame counts`, async () => {
      const cap = await readPcapFile(join(vectorsDir, file));
      assert.equal(cap.format, 'pcap');
      assert.equal(cap.packets, exp.packets);
      assert.equal(cap.tcpSegments, exp.packets);
      assert.deepEqual(cap.ignored, {});
      assert.equal(cap.connections.length, exp.conns.length);
      assert.equal(cap.connections[0]!.startTime, exp.startTime);
      cap.connections.forEach((conn, i) => {
        const e = exp.conns[i]!;
        assert.equal(conn.id, i + 1);
        assert.deepEqual(conn.client, { addr: '127.0.0.1', port: e.client });
        assert.deepEqual(conn.server, { addr: '127.0.0.1', port: e.server });
        assert.equal(conn.closed, 'fin');
        assert.deepEqual(conn.gaps, []);
        for (const dir of ['c2s', 's2c'] as const) {
          const data = streamBytes(conn, dir);
          assert.equal(data.length, e[dir].bytes, `conn${conn.id} ${dir} bytes`);
          assert.equal(frameCount(data), e[dir].frames, `conn${conn.id} ${dir} frames`);
          assert.equal(sha256(data), e[dir].sha256, `conn${conn.id} ${dir} content`);
        }
        for (let k = 1; k < conn.chunks.length; k++) {
          assert.ok(conn.chunks[k]!.time >= conn.chunks[k - 1]!.time, 'chunks ordered by time');
        }
      });
    });
  }

  it('pidgin capture: the damaged tail after packet 36 is a warning, not a crash', async () => {
    const cap = await readPcapFile(join(vectorsDir, 'pidgin-mra-1.8-session.pcap'));
    assert.equal(cap.warnings.length, 1);
    assert.equal(cap.warnings[0]!.offset, 4447);
    assert.match(cap.warnings[0]!.message, /damaged record header.*1643 bytes/);
  });

  it('pidgin capture: first packets are HELLO from the client and HELLO_ACK from the server', async () => {
    const cap = await readPcapFile(join(vectorsDir, 'pidgin-mra-1.8-session.pcap'));
    const [first, second] = cap.connections[0]!.chunks;
    assert.equal(first!.dir, 'c2s');
    assert.equal(first!.data.readUInt32LE(12), 0x1001);
    assert.equal(second!.dir, 's2c');
    assert.equal(second!.data.readUInt32LE(12), 0x1002);
  });

  it('mrim-prpl capture: the redirector connections carry the HTTP-style request and "ip:port\\n"', async () => {
    const cap = await readPcapFile(join(vectorsDir, 'mrim-prpl-1.22-messages.pcap'));
    const redirect = cap.connections[0]!;
    assert.match(streamBytes(redirect, 'c2s').toString('latin1'), /^GET 127\.0\.0\.1:12042 HTTP\/1\.0\r\n/);
    assert.equal(streamBytes(redirect, 's2c').toString('latin1'), '127.0.0.1:12041\n');
  });

  it('fixture stream files and index.json match what the reader produces now', async () => {
    const index = JSON.parse(readFileSync(join(vectorsDir, 'index.json'), 'utf8')) as {
      vectors: Array<{
        pcap: string;
        connections: Array<{ conn: number } & Record<'c2s' | 's2c', { file: string; bytes: number; frames: number }>>;
      }>;
    };
    assert.deepEqual(
      index.vectors.map((v) => v.pcap),
      Object.keys(REAL),
    );
    for (const v of index.vectors) {
      const cap = await readPcapFile(join(vectorsDir, v.pcap));
      assert.equal(v.connections.length, cap.connections.length);
      for (const c of v.connections) {
        const conn = cap.connections[c.conn - 1]!;
        for (const dir of ['c2s', 's2c'] as const) {
          const onDisk = readFileSync(join(vectorsDir, c[dir].file));
          assert.deepEqual(onDisk, streamBytes(conn, dir), c[dir].file);
          assert.equal(c[dir].bytes, onDisk.length);
          assert.equal(c[dir].frames, frameCount(onDisk));
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Reassembly

const handshake = (isn: number, serverIsn = 7000): TcpSegment[] => [
  seg(1, isn, SYN),
  seg(2, serverIsn, SYN | ACK, '', 's2c'),
  seg(3, isn + 1, ACK),
];

describe('TCP reassembly', () => {
  it('orders out-of-order segments and drops retransmitted and overlapping bytes', () => {
    const text = 'hello world, this is mrim!';
    const b = 1001; // ISN 1000 + 1
    const [conn] = reassembleTcp([
      ...handshake(1000),
      seg(10, b + 0, ACK | PSH, text.slice(0, 5)),
      seg(11, b + 12, ACK | PSH, text.slice(12, 20)), // ahead of a hole
      seg(12, b + 5, ACK | PSH, text.slice(5, 12)), // fills the hole
      seg(13, b + 5, ACK | PSH, text.slice(5, 12)), // plain retransmission
      seg(14, b + 10, ACK | PSH, text.slice(10, 22)), // overlaps old bytes, brings 2 new
      seg(15, b + 22, ACK | PSH | FIN, text.slice(22)),
      seg(16, 7001, FIN | ACK, '', 's2c'),
    ]);
    assert.ok(conn);
    assert.equal(streamBytes(conn, 'c2s').toString(), text);
    assert.deepEqual(conn.gaps, []);
    assert.equal(conn.closed, 'fin');
    assert.deepEqual(
      conn.chunks.map((c) => [c.time, c.offset, c.data.toString()]),
      [
        [10, 0, 'hello'],
        [12, 5, ' world,'],
        [12, 12, ' this is'], // became in-order when the hole was filled at t=12
        [14, 20, ' m'],
        [15, 22, 'rim!'],
      ],
    );
  });

  it('handles 32-bit sequence number wrap-around', () => {
    const isn = 0xfffffff0;
    const parts = ['0123456789', 'abcdefghij', 'KLMNOPQRST', 'uvwxyz'];
    const at = (i: number): number => (isn + 1 + i * 10) >>> 0;
    const [conn] = reassembleTcp([
      ...handshake(isn),
      seg(10, at(0), ACK, parts[0]),
      seg(11, at(2), ACK, parts[2]), // seq 0x00000005, after the wrap
      seg(12, at(1), ACK, parts[1]), // straddles the wrap
      seg(13, at(1), ACK, parts[1]),
      seg(14, at(3), ACK, parts[3]),
    ]);
    assert.equal(at(2), 0x05);
    assert.equal(streamBytes(conn!, 'c2s').toString(), parts.join(''));
    assert.deepEqual(
      conn!.chunks.map((c) => c.offset),
      [0, 10, 20, 30],
    );
    assert.deepEqual(conn!.gaps, []);
  });

  it('reports missing bytes as gaps instead of silently joining', () => {
    const [conn] = reassembleTcp([
      ...handshake(100),
      seg(10, 101, ACK, 'AAAAA'),
      // bytes 5..9 never captured
      seg(11, 111, ACK, 'CCCCC'),
      seg(12, 116, ACK | FIN, ''),
      seg(13, 7001, ACK, 'reply', 's2c'),
      // server FIN at stream offset 9: bytes 5..8 of the reply are missing
      seg(14, 7010, ACK | FIN, '', 's2c'),
    ]);
    assert.deepEqual(conn!.gaps, [
      { dir: 'c2s', offset: 5, length: 5, time: 11 },
      { dir: 's2c', offset: 5, length: 4, time: 14 },
    ]);
    const c2s = conn!.chunks.filter((c) => c.dir === 'c2s');
    assert.deepEqual(
      c2s.map((c) => [c.offset, c.data.toString()]),
      [
        [0, 'AAAAA'],
        [10, 'CCCCC'],
      ],
    );
  });

  it('interleaves the two directions by capture time', () => {
    const [conn] = reassembleTcp([
      ...handshake(0, 500),
      seg(10, 1, ACK, 'c1'),
      seg(11, 501, ACK, 's1', 's2c'),
      seg(12, 3, ACK, 'c2'),
      seg(13, 503, ACK, 's2', 's2c'),
    ]);
    assert.deepEqual(
      conn!.chunks.map((c) => `${c.dir}:${c.data}`),
      ['c2s:c1', 's2c:s1', 'c2s:c2', 's2c:s2'],
    );
    assert.equal(conn!.closed, 'open');
    assert.equal(conn!.startTime, 1);
  });

  it('picks the client: SYN sender, else SYN+ACK receiver, else the higher port', () => {
    const [bySynAck] = reassembleTcp([seg(2, 7000, SYN | ACK, '', 's2c'), seg(3, 1, ACK, 'x')]);
    assert.deepEqual(bySynAck!.client, CLIENT);
    // Mid-stream capture, server speaks first: offset 0 is the first sequence number seen.
    const [byPort] = reassembleTcp([seg(1, 9000, ACK, 'srv', 's2c'), seg(2, 123, ACK, 'cli')]);
    assert.deepEqual(byPort!.client, CLIENT);
    assert.deepEqual(byPort!.server, SERVER);
    assert.equal(streamBytes(byPort!, 's2c').toString(), 'srv');
    // One-sided capture: the peer is known only as the destination.
    const [oneSided] = reassembleTcp([seg(1, 9000, ACK, 'srv', 's2c')]);
    assert.deepEqual(oneSided!.client, CLIENT);
    assert.deepEqual(oneSided!.chunks.map((c) => c.dir), ['s2c']);
  });

  it('marks RST and splits a reused port pair into separate connections', () => {
    const conns = reassembleTcp([
      ...handshake(100),
      seg(10, 101, ACK, 'first'),
      seg(11, 7001, RST | ACK, 'ignored diagnostic', 's2c'),
      seg(20, 5000, SYN),
      seg(21, 9000, SYN | ACK, '', 's2c'),
      seg(22, 5001, ACK, 'second'),
      seg(23, 5001, SYN), // retransmitted-looking SYN with a new ISN while open: yet another connection
    ]);
    assert.deepEqual(
      conns.map((c) => [c.id, c.closed, streamBytes(c, 'c2s').toString()]),
      [
        [1, 'rst', 'first'],
        [2, 'open', 'second'],
        [3, 'open', ''],
      ],
    );
    assert.equal(streamBytes(conns[0]!, 's2c').length, 0);
    // A retransmitted SYN with the same ISN stays in the same connection.
    assert.equal(reassembleTcp([seg(1, 5, SYN), seg(2, 5, SYN), seg(3, 6, ACK, 'x')]).length, 1);
  });

  it('reassembles any segmentation, order and duplication of a stream (property)', () => {
    const scenario = fc
      .record({
        data: fc.uint8Array({ minLength: 1, maxLength: 400 }),
        isn: fc.integer({ min: 0, max: 0xffffffff }),
        cuts: fc.uniqueArray(fc.integer({ min: 1, max: 399 }), { maxLength: 20 }),
        dups: fc.array(fc.record({ start: fc.nat(399), len: fc.integer({ min: 1, max: 60 }) }), { maxLength: 8 }),
      })
      .chain(({ data, isn, cuts, dups }) => {
        const edges = [0, ...cuts.filter((c) => c < data.length).sort((a, b) => a - b), data.length];
        const pieces = edges.slice(1).map((end, i) => ({ start: edges[i]!, end }));
        for (const d of dups) {
          if (d.start < data.length) pieces.push({ start: d.start, end: Math.min(data.length, d.start + d.len) });
        }
        return fc
          .shuffledSubarray(pieces, { minLength: pieces.length, maxLength: pieces.length })
          .map((order) => ({ data: Buffer.from(data), isn, order }));
      });
    fc.assert(
      fc.property(scenario, ({ data, isn, order }) => {
        const segments = [
          seg(0, isn, SYN),
          ...order.map((p, i) => seg(1 + i, isn + 1 + p.start, ACK, data.subarray(p.start, p.end))),
        ];
        const conns = reassembleTcp(segments);
        assert.equal(conns.length, 1);
        const conn = conns[0] as TcpConnection;
        assert.deepEqual(conn.gaps, []);
        assert.deepEqual(streamBytes(conn, 'c2s'), data);
        let expected = 0;
        for (const c of conn.chunks) {
          assert.equal(c.offset, expected);
          expected += c.data.length;
        }
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Containers and link layers

/** A short client/server exchange as IP packets with µs timestamps, used by several file tests. */
function conversation(v6 = false): Array<{ sec: number; usec: number; ip: Buffer }> {
  const c = v6 ? '2001:db8::1' : '192.168.1.10';
  const s = v6 ? '2001:db8::2' : '192.168.1.20';
  const p = (usec: number, fromClient: boolean, seq: number, flags: number, payload = '') => ({
    sec: 1700000000,
    usec,
    ip: ipPacket({
      src: fromClient ? c : s,
      dst: fromClient ? s : c,
      sport: fromClient ? 40000 : 2041,
      dport: fromClient ? 2041 : 40000,
      seq,
      flags,
      payload,
      hopByHop: v6 && fromClient,
    }),
  });
  return [
    p(1, true, 10, SYN),
    p(2, false, 20, SYN | ACK),
    p(3, true, 11, ACK),
    p(4, true, 16, ACK, 'world'), // out of order
    p(5, true, 11, ACK, 'hello'),
    p(6, false, 21, ACK, 'reply'),
    p(7, true, 21, FIN | ACK),
    p(8, false, 26, FIN | ACK),
  ];
}

function checkConversation(conn: TcpConnection | undefined, v6 = false): void {
  assert.ok(conn);
  assert.deepEqual(conn.client, { addr: v6 ? '2001:db8::1' : '192.168.1.10', port: 40000 });
  assert.deepEqual(conn.server, { addr: v6 ? '2001:db8::2' : '192.168.1.20', port: 2041 });
  assert.equal(streamBytes(conn, 'c2s').toString(), 'helloworld');
  assert.equal(streamBytes(conn, 's2c').toString(), 'reply');
  assert.equal(conn.closed, 'fin');
  assert.deepEqual(conn.gaps, []);
}

describe('capture files', () => {
  it('classic pcap, little-endian µs, Ethernet; counts non-TCP packets', () => {
    const recs: Rec[] = conversation().map((p) => ({ sec: p.sec, frac: p.usec, data: ethernet(p.ip) }));
    const udp = ipv4('1.1.1.1', '2.2.2.2', 17, Buffer.alloc(8));
    recs.push({ sec: 1700000001, frac: 0, data: ethernet(udp) });
    recs.push({ sec: 1700000001, frac: 1, data: ethernet(Buffer.alloc(28), 0x0806) }); // ARP
    recs.push({ sec: 1700000001, frac: 2, data: ethernet(ipv4('1.1.1.1', '2.2.2.2', 1, Buffer.alloc(8))) });
    const frag = ipv4('1.1.1.1', '2.2.2.2', 6, Buffer.alloc(20), 0x2000);
    recs.push({ sec: 1700000001, frac: 3, data: ethernet(frag) });
    const cap = parseCapture(pcap(recs));
    assert.equal(cap.format, 'pcap');
    assert.equal(cap.packets, 12);
    assert.equal(cap.tcpSegments, 8);
    assert.deepEqual(cap.ignored, { udp: 1, 'non-ip': 1, icmp: 1, 'ip-fragment': 1 });
    assert.deepEqual(cap.warnings, []);
    assert.equal(cap.connections.length, 1);
    checkConversation(cap.connections[0]);
    assert.equal(cap.connections[0]!.startTime, 1700000000000.001);
  });

  it('ignores Ethernet padding after the IPv4 total length', () => {
    const ip = ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 2041, seq: 1, flags: ACK, payload: 'ab' });
    const padded = Buffer.concat([ethernet(ip), Buffer.alloc(60 - 14 - ip.length, 0xee)]);
    const d = decodeTcpPacket(LINKTYPE.ETHERNET, padded, 0);
    assert.ok('tcp' in d);
    assert.equal(d.tcp.payload.toString(), 'ab');
  });

  it('reports the bytes a short snap length cut off as a gap', () => {
    const recs: Rec[] = conversation().map((p) => ({ sec: p.sec, frac: p.usec, data: ethernet(p.ip) }));
    // Cut the 'hello' packet (index 4) by 3 bytes, as tcpdump -s would.
    const full = recs[4]!.data;
    recs[4] = { ...recs[4]!, data: full.subarray(0, full.length - 3), origLen: full.length };
    const conn = parseCapture(pcap(recs)).connections[0]!;
    assert.equal(streamBytes(conn, 'c2s').toString(), 'heworld');
    assert.deepEqual(conn.gaps, [{ dir: 'c2s', offset: 2, length: 3, time: 1700000000000.004 }]);
  });

  it('classic pcap, big-endian, nanosecond timestamps, Linux cooked (SLL)', () => {
    const recs: Rec[] = conversation().map((p) => ({ sec: p.sec, frac: p.usec * 1000 + 789, data: sll(p.ip) }));
    const file = pcap(recs, { le: false, nano: true, linkType: LINKTYPE.LINUX_SLL });
    assert.equal(file.readUInt32BE(0), 0xa1b23c4d);
    checkConversation(parseCapture(file).connections[0]);
    const { records } = readCaptureRecords(file);
    assert.equal(records[0]!.linkType, LINKTYPE.LINUX_SLL);
    assert.ok(Math.abs(records[0]!.time - 1700000000000.001789) < 1e-6);
  });

  it('IPv6 with an extension header over SLL2', () => {
    const recs: Rec[] = conversation(true).map((p) => ({ sec: p.sec, frac: p.usec, data: sll2(p.ip) }));
    const cap = parseCapture(pcap(recs, { linkType: LINKTYPE.LINUX_SLL2 }));
    checkConversation(cap.connections[0], true);
  });

  it('decodes every supported link type', () => {
    const v4 = ipPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 5, flags: ACK, payload: 'x' });
    const v6 = ipPacket({ src: 'fe80::1:2', dst: '::1', sport: 1, dport: 2, seq: 5, flags: ACK, payload: 'x' });
    const cases: Array<[string, number, Buffer, string]> = [
      ['ethernet', LINKTYPE.ETHERNET, ethernet(v4), '10.0.0.1'],
      ['ethernet vlan', LINKTYPE.ETHERNET, ethernet(v6, 0x86dd, true), 'fe80::1:2'],
      ['sll', LINKTYPE.LINUX_SLL, sll(v6), 'fe80::1:2'],
      ['sll2', LINKTYPE.LINUX_SLL2, sll2(v4), '10.0.0.1'],
      ['raw v4', LINKTYPE.RAW, v4, '10.0.0.1'],
      ['raw v6', LINKTYPE.RAW, v6, 'fe80::1:2'],
      ['ipv4', LINKTYPE.IPV4, v4, '10.0.0.1'],
      ['ipv6', LINKTYPE.IPV6, v6, 'fe80::1:2'],
      ['null le', LINKTYPE.NULL, Buffer.concat([afHeader(2, true), v4]), '10.0.0.1'],
      ['null be v6 (macOS)', LINKTYPE.NULL, Buffer.concat([afHeader(30, false), v6]), 'fe80::1:2'],
      ['null le v6 (Linux)', LINKTYPE.NULL, Buffer.concat([afHeader(10, true), v6]), 'fe80::1:2'],
      ['loop', LINKTYPE.LOOP, Buffer.concat([afHeader(2, false), v4]), '10.0.0.1'],
    ];
    for (const [name, linkType, frame, src] of cases) {
      const d = decodeTcpPacket(linkType, frame, 0);
      assert.ok('tcp' in d, name);
      assert.equal(d.tcp.src.addr, src, name);
      assert.equal(d.tcp.dst.port, 2, name);
      assert.equal(d.tcp.payload.toString(), 'x', name);
    }
    assert.deepEqual(decodeTcpPacket(147, v4, 0), { ignored: 'link-type-147' });
    assert.deepEqual(decodeTcpPacket(LINKTYPE.ETHERNET, Buffer.alloc(5), 0), { ignored: 'malformed' });
  });

  it('pcapng, little-endian: several interfaces with their own link type and if_tsresol, EPB and SPB', () => {
    const conv = conversation();
    const file = new Pcapng(true)
      .section(true)
      .iface(LINKTYPE.ETHERNET) // default resolution: µs
      .iface(LINKTYPE.RAW, { tsresol: 9 }) // ns
      .block(4, Buffer.alloc(4)); // a name resolution block: skipped
    conv.forEach((p, i) => {
      if (i % 2 === 0) file.packet(0, BigInt(p.sec) * 1_000_000n + BigInt(p.usec), ethernet(p.ip));
      else file.packet(1, BigInt(p.sec) * 1_000_000_000n + BigInt(p.usec) * 1000n + 5n, p.ip);
    });
    file.simple(ethernet(ipv4('1.1.1.1', '2.2.2.2', 17, Buffer.alloc(8))));
    const buf = file.build();
    const { format, records, warnings } = readCaptureRecords(buf);
    assert.equal(format, 'pcapng');
    assert.deepEqual(warnings, []);
    assert.equal(records.length, 9);
    assert.deepEqual(
      records.map((r) => r.linkType),
      [1, 101, 1, 101, 1, 101, 1, 101, 1],
    );
    assert.equal(records[0]!.time, 1700000000000.001);
    assert.ok(Math.abs(records[1]!.time - 1700000000000.002005) < 1e-6);
    assert.equal(records[8]!.time, records[7]!.time, 'an SPB reuses the previous timestamp');
    const cap = parseCapture(buf);
    assert.deepEqual(cap.ignored, { udp: 1 });
    checkConversation(cap.connections[0]);
  });

  it('pcapng, big-endian, binary if_tsresol and if_tsoffset; a second section switches byte order', () => {
    const conv = conversation();
    const file = new Pcapng(false).section(false).iface(LINKTYPE.LINUX_SLL, { tsresol: 0x80 | 10, tsoffset: 1000n });
    for (const p of conv.slice(0, 4)) file.packet(0, BigInt(p.sec - 1000) * 1024n + BigInt(p.usec), sll(p.ip));
    file.section(true).iface(LINKTYPE.ETHERNET);
    for (const p of conv.slice(4)) file.packet(0, BigInt(p.sec) * 1_000_000n + BigInt(p.usec), ethernet(p.ip));
    const buf = file.build();
    const { records } = readCaptureRecords(buf);
    assert.equal(records.length, 8);
    assert.equal(records[0]!.time, 1700000000000 + 1000 / 1024);
    assert.equal(records[4]!.linkType, LINKTYPE.ETHERNET);
    checkConversation(parseCapture(buf).connections[0]);
  });
});

describe('damaged input', () => {
  const good = pcap(conversation().map((p) => ({ sec: p.sec, frac: p.usec, data: ethernet(p.ip) })));

  it('rejects garbage, empty and header-truncated files with CaptureFormatError', () => {
    const cases: Array<[Buffer, RegExp, number]> = [
      [Buffer.from('GET / HTTP/1.1\r\n\r\n'), /not a pcap or pcapng file: unknown magic bytes 47455420/, 0],
      [Buffer.alloc(0), /not a pcap or pcapng file: only 0 bytes/, 0],
      [good.subarray(0, 10), /truncated pcap file header: 10 of 24 bytes/, 0],
      [new Pcapng().section(true).build().subarray(0, 20), /truncated pcapng block/, 0],
      [Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4]), /bad pcapng byte-order magic/, 8],
    ];
    for (const [input, message, offset] of cases) {
      assert.throws(
        () => parseCapture(input),
        (err: unknown) => {
          assert.ok(err instanceof CaptureFormatError);
          assert.ok(err instanceof Error);
          assert.match(err.message, message);
          assert.match(err.message, new RegExp(`at file offset ${offset}\\)`));
          assert.equal(err.offset, offset);
          return true;
        },
      );
    }
  });

  it('a truncated last record gives a warning and the packets before it', () => {
    const cut = good.subarray(0, good.length - 5);
    const cap = parseCapture(cut);
    assert.equal(cap.packets, 7);
    assert.equal(cap.warnings.length, 1);
    const lastRecord = readCaptureRecords(good).records[7]!.offset;
    assert.equal(cap.warnings[0]!.offset, lastRecord);
    assert.match(cap.warnings[0]!.message, /truncated record: \d+ bytes captured but only \d+ left/);
    // The server's FIN went down with the lost record, so the connection is still open.
    assert.equal(cap.connections[0]!.closed, 'open');
    assert.equal(streamBytes(cap.connections[0]!, 'c2s').toString(), 'helloworld');
  });

  it('a truncated record header gives a warning', () => {
    const cap = parseCapture(Buffer.concat([good, Buffer.alloc(7)]));
    assert.equal(cap.packets, 8);
    assert.deepEqual(cap.warnings, [{ offset: good.length, message: 'truncated record header: 7 of 16 bytes' }]);
  });

  it('a truncated pcapng block gives a warning and the packets before it', () => {
    const conv = conversation();
    const file = new Pcapng().section(true).iface(LINKTYPE.RAW);
    conv.forEach((p, i) => file.packet(0, BigInt(i), p.ip));
    const buf = file.build();
    const cap = parseCapture(buf.subarray(0, buf.length - 1));
    assert.equal(cap.format, 'pcapng');
    assert.equal(cap.packets, 7);
    assert.equal(cap.warnings.length, 1);
    assert.match(cap.warnings[0]!.message, /truncated pcapng block: type 0x00000006/);
  });
});
