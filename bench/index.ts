/**
 * `npm run bench [-- --json] [-- --quick]`: framing and decoding, proxy throughput and latency against
 * peers (direct, a bare Node relay, microsocks, mitmdump -w) in the same run, capacity, capture cost
 * (through the proxy, and of the capture writer and reader alone: capture-cost.ts).
 * Figures are medians of several rounds; ratios are against baselines measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Table from 'cli-table3';
import { readCapture } from '../src/capture/jsonl.js';
import { benchCaptureCost } from './capture-cost.js';
import { benchFraming } from './framing.js';
import { PEERS, bulkMrimFrame, chattyFrame, connectVia, fileSize, pingPong, rssOf, startSink, stopPeer, transfer, untilIdle, type Peer, type PeerSpec } from './proxy.js';

const MB = 1024 * 1024;
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const asJson = args.has('--json');
const log = (line: string) => (asJson ? process.stderr : process.stdout).write(line + '\n');
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const percentile = (v: number[], p: number) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * p))];
const dir = mkdtempSync(join(tmpdir(), 'mrimtap-bench-'));

const ROUNDS = quick ? 2 : 5;
const WARM_UP_ROUNDS = quick ? 1 : 3;
const BULK_BYTES = (quick ? 8 : 32) * MB;
const CHATTY_BYTES = (quick ? 3 : 12) * MB;
const RTT_ROUNDS = quick ? 500 : 2000;
const bulkPayload = randomBytes(64 * 1024); // raw non-MRIM bytes
const chatty = Buffer.concat(Array.from({ length: 64 }, (_, i) => chattyFrame(i + 1)));
const chattyFrameBytes = chatty.length / 64;
const bulkMrim = bulkMrimFrame(1);
// Whole frames only: a frame cut off at the end of a round is held back by the addons' path (up to a
// second, waiting for the rest), which timed that second rather than the relay.
const chattyBytes = Math.floor(CHATTY_BYTES / chatty.length) * chatty.length;

interface ProxyRow {
  peer: string;
  skipped?: string;
  bulkMBps?: number;
  /** Bulk of 64 KiB MESSAGE frames: decoded and recorded whole. */
  bulkMrimMBps?: number;
  chattyMBps?: number;
  /** The rates above are to the end of recording (the capture complete); these, to the sink's last byte. */
  delivered?: { bulkMBps: number; bulkMrimMBps: number; chattyMBps: number };
  chattyFramesPerS?: number;
  rttP50us?: number;
  rttP99us?: number;
  /** Capture bytes per relayed byte (bulk, chatty), for peers that record. */
  captureBulk?: number;
  captureBulkMrim?: number;
  captureChatty?: number;
  ratios?: Record<string, number>;
}

const slug = (name: string) => name.replace(/\W+/g, '-');

interface Throughput {
  /** Medians over the rounds. */
  deliveredMs: number;
  recordedMs: number;
  /** Capture bytes per relayed byte (every round's bytes are in the capture, the warm-up's too). */
  capturePerByte: number;
  capture?: string;
}

/**
 * One kind of traffic through every peer, a fresh connection per round and the peers taking turns round
 * by round: when a shared machine slows down for a while, it slows a round of each peer alike rather than
 * all the rounds of one.
 */
async function throughput(specs: PeerSpec[], what: string, payload: Buffer, total: number): Promise<Throughput[]> {
  const sink = await startSink(total);
  const peers: Peer[] = [];
  const delivered = specs.map((): number[] => []);
  const recorded = specs.map((): number[] => []);
  try {
    for (const spec of specs) peers.push(await spec.start!(join(dir, `${slug(spec.name)}-${what}.capture`)));
    // The first rounds warm each peer up (its JIT, its heaps: mrimtap's recording threads take about
    // three 12 MB chatty rounds to reach their pace) and are not counted.
    for (let round = 0; round < WARM_UP_ROUNDS + ROUNDS; round++) {
      for (const [i, peer] of peers.entries()) {
        await untilIdle(peers);
        const times = await transfer(await connectVia(peer, sink.port), payload, total, peer.capture);
        if (round < WARM_UP_ROUNDS) continue;
        delivered[i]!.push(times.deliveredMs);
        recorded[i]!.push(times.recordedMs);
      }
    }
  } finally {
    // Stopped before their captures are measured: mrimtap and mitmdump finish writing on SIGINT.
    await Promise.all(peers.map(stopPeer));
    await sink.close();
  }
  return peers.map((peer, i) => ({
    deliveredMs: median(delivered[i]!),
    recordedMs: median(recorded[i]!),
    capturePerByte: fileSize(peer.capture) / (total * (WARM_UP_ROUNDS + ROUNDS)),
    capture: peer.capture,
  }));
}

/** Round trips of one frame through a peer. */
async function roundTrips(spec: PeerSpec): Promise<number[]> {
  const echo = await startSink(0);
  const peer = await spec.start!(join(dir, `${slug(spec.name)}-rtt.capture`));
  try {
    const sock = await connectVia(peer, echo.port);
    const rtts = await pingPong(sock, chattyFrame(1), RTT_ROUNDS);
    sock.destroy();
    return rtts;
  } finally {
    await stopPeer(peer);
    await echo.close();
  }
}

async function measurePeers(): Promise<ProxyRow[]> {
  const runnable = PEERS.filter((spec) => !spec.missing && spec.start);
  log(`  proxy: ${runnable.map((spec) => spec.name).join(', ')}, taking turns…`);
  const bulk = await throughput(runnable, 'bulk', bulkPayload, BULK_BYTES);
  const bulkMrimBytes = Math.floor(BULK_BYTES / bulkMrim.length) * bulkMrim.length;
  const bulkMrimRuns = await throughput(runnable, 'bulk-mrim', bulkMrim, bulkMrimBytes);
  const chattyRuns = await throughput(runnable, 'chatty', chatty, chattyBytes);
  const rows: ProxyRow[] = [];
  for (const spec of PEERS) {
    const i = runnable.indexOf(spec);
    if (i === -1) {
      rows.push({ peer: spec.name, skipped: spec.missing });
      continue;
    }
    const rtts = await roundTrips(spec);
    if (spec.name === 'mrimtap --record') renameSync(chattyRuns[i]!.capture!, join(dir, 'mrimtap-stored.jsonl'));
    const recording = spec.name.includes('-w') || spec.name.includes('record');
    const rate = (bytes: number, ms: number) => bytes / MB / (ms / 1000);
    rows.push({
      peer: spec.name,
      bulkMBps: rate(BULK_BYTES, bulk[i]!.recordedMs),
      bulkMrimMBps: rate(bulkMrimBytes, bulkMrimRuns[i]!.recordedMs),
      chattyMBps: rate(chattyBytes, chattyRuns[i]!.recordedMs),
      chattyFramesPerS: chattyBytes / chattyFrameBytes / (chattyRuns[i]!.recordedMs / 1000),
      delivered: {
        bulkMBps: rate(BULK_BYTES, bulk[i]!.deliveredMs),
        bulkMrimMBps: rate(bulkMrimBytes, bulkMrimRuns[i]!.deliveredMs),
        chattyMBps: rate(chattyBytes, chattyRuns[i]!.deliveredMs),
      },
      rttP50us: percentile(rtts, 0.5),
      rttP99us: percentile(rtts, 0.99),
      ...(recording ? { captureBulk: bulk[i]!.capturePerByte, captureBulkMrim: bulkMrimRuns[i]!.capturePerByte, captureChatty: chattyRuns[i]!.capturePerByte } : {}),
    });
  }
  return rows;
}

/** 1,000 idle then 200 active sessions through `mrimtap proxy --record`. */
async function capacity() {
  const spec = PEERS.find((p) => p.name === 'mrimtap --record')!;
  const IDLE = quick ? 300 : 1000;
  const ACTIVE = quick ? 50 : 200;
  const FRAMES = quick ? 200 : 500;
  const capture = join(dir, 'capacity.jsonl');
  const peer = await spec.start!(capture);
  const echo = await startSink(0);
  const perSession = chattyFrame(1).length * FRAMES;
  const sink = await startSink(perSession);
  let result;
  try {
    await new Promise((r) => setTimeout(r, 300));
    const rss0 = rssOf(peer.child!.pid);
    const idle = [];
    for (let i = 0; i < IDLE; i++) idle.push(await connectVia(peer, echo.port));
    await new Promise((r) => setTimeout(r, 500));
    const rss1 = rssOf(peer.child!.pid);
    const frame = chattyFrame(1);
    const payload = Buffer.concat(Array.from({ length: FRAMES }, () => frame));
    const socks = await Promise.all(Array.from({ length: ACTIVE }, () => connectVia(peer, sink.port)));
    const t0 = performance.now();
    await Promise.all(socks.map((s) => transfer(s, payload, payload.length)));
    const ms = performance.now() - t0;
    for (const s of [...socks, ...idle]) s.destroy();
    result = { idle: IDLE, active: ACTIVE, framesPerSession: FRAMES, rssPerIdleConnKiB: (rss1 - rss0) / IDLE / 1024, activeFramesPerS: (ACTIVE * FRAMES) / (ms / 1000) };
  } finally {
    await stopPeer(peer);
    await sink.close();
    await echo.close();
  }
  const text = readFileSync(capture, 'utf8');
  const recorded = text.split('\n').filter((l) => l.includes('"kind":"frame"') && l.includes('"type":"MESSAGE"')).length;
  return { ...result, framesExpected: result.active * result.framesPerSession, framesRecorded: recorded, framesLost: result.active * result.framesPerSession - recorded };
}

/** Decode of a stored capture: read back and re-decode every record. */
async function decodeStored(path: string) {
  const t0 = performance.now();
  let frames = 0;
  for await (const item of readCapture(path)) if (item.kind === 'event' && item.event.event.kind === 'frame') frames++;
  const s = (performance.now() - t0) / 1000;
  return { captureMB: fileSize(path) / MB, frames, framesPerS: frames / s, MBps: fileSize(path) / MB / s };
}

const started = performance.now();
log(`mrimtap bench — node ${process.version}, ${process.platform}/${process.arch}${quick ? ', --quick' : ''}`);
const framing = benchFraming(quick);
const proxy = await measurePeers();
const base = (name: string) => proxy.find((r) => r.peer === name && !r.skipped);
const ours = proxy.find((r) => r.peer === 'mrimtap --record')!;
for (const row of proxy) {
  if (row.skipped || row === ours) continue;
  row.ratios = {
    bulk: ours.bulkMBps! / row.bulkMBps!,
    bulkMrim: ours.bulkMrimMBps! / row.bulkMrimMBps!,
    chatty: ours.chattyMBps! / row.chattyMBps!,
    rttP50: ours.rttP50us! / row.rttP50us!,
  };
}
log('  capacity…');
const cap = await capacity();
const stored = await decodeStored(join(dir, 'mrimtap-stored.jsonl'));
log('  capture cost…');
const captureCost = await benchCaptureCost(dir, { chatty: chattyFrame, bulkMrim: bulkMrimFrame }, quick);
rmSync(dir, { recursive: true, force: true });

const f = (n: number | undefined, d = 1) => (n === undefined ? '–' : n.toFixed(d));
const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
const t1 = new Table({ head: ['chunk', 'framing MB/s', 'frames/s', '× copy', 'decode MB/s', 'frames/s', '× copy', 'copy MB/s'] });
for (const r of framing.rows) t1.push([`${r.chunk} B`, f(r.framingMBps), k(r.framingFramesPerS), f(r.framingVsCopy), f(r.decodeMBps), k(r.decodeFramesPerS), f(r.decodeVsCopy), f(r.copyMBps, 0)]);
const t2 = new Table({ head: ['proxy', 'bulk MB/s', 'bulk MRIM MB/s', 'chatty MB/s', 'frames/s', 'delivered bulk/MRIM/chatty', 'RTT p50 µs', 'p99 µs', 'capture/byte bulk', 'bulk MRIM', 'chatty', 'mrimtap ÷ this (bulk/MRIM/chatty/p50)'] });
for (const r of proxy) {
  if (r.skipped) t2.push([r.peer, { colSpan: 11, content: `skipped: ${r.skipped}` }]);
  else t2.push([r.peer, f(r.bulkMBps), f(r.bulkMrimMBps), f(r.chattyMBps), k(r.chattyFramesPerS!), `${f(r.delivered!.bulkMBps, 0)} / ${f(r.delivered!.bulkMrimMBps, 0)} / ${f(r.delivered!.chattyMBps, 0)}`, f(r.rttP50us, 0), f(r.rttP99us, 0), f(r.captureBulk, 2), f(r.captureBulkMrim, 2), f(r.captureChatty, 2), r.ratios ? `${f(r.ratios.bulk, 2)} / ${f(r.ratios.bulkMrim, 2)} / ${f(r.ratios.chatty, 2)} / ${f(r.ratios.rttP50, 2)}` : '']);
}
const t3 = new Table({ head: ['traffic', 'events', 'write events/s', 'write MB/s (relayed)', 'capture ÷ relayed', 'B/event', 'read frames/s', 'read MB/s'] });
for (const r of captureCost) t3.push([r.traffic, r.events, k(r.writeEventsPerS), f(r.writeMBps, 0), f(r.capturePerByte, 2), f(r.bytesPerEvent, 0), k(r.readFramesPerS), f(r.readMBps, 0)]);
/** The targets of issue 12, each with the figure it is checked on (undefined: a peer was skipped). */
const ratio = (peer: string, key: 'bulk' | 'bulkMrim' | 'chatty' | 'rttP50') => base(peer)?.ratios?.[key];
/** What the recording floor (the bare relay writing base64 lines, nothing else) reaches of the bare relay: how far below 1 recording alone brings a relay on this machine. */
const floorVsBare = (key: 'bulk' | 'bulkMrim') => {
  const [floor, bare] = [base('bare relay --record'), base('bare Node relay')];
  const rateOf = (r: ProxyRow) => (key === 'bulk' ? r.bulkMBps! : r.bulkMrimMBps!);
  return floor && bare ? rateOf(floor) / rateOf(bare) : undefined;
};
// Raw bulk is decoded only for its first 64 KiB (then it is known not to be MRIM), recorded whole: the
// bulk targets are checked on it as the issue words them, and on bulk MRIM, which is decoded too.
const targets = [
  ...(['bulk', 'bulkMrim'] as const).flatMap((key) => {
    const what = key === 'bulk' ? 'bulk (raw)' : 'bulk MRIM';
    return [
      { target: `${what} ≥ 1.0× microsocks`, value: ratio('microsocks', key), holds: (v: number) => v >= 1 },
      { target: `${what} ≥ 1.2× mitmdump -w`, value: ratio('mitmdump -w', key), holds: (v: number) => v >= 1.2 },
      { target: `${what} ≥ 0.6× the bare Node relay`, value: ratio('bare Node relay', key), holds: (v: number) => v >= 0.6, floor: floorVsBare(key) },
    ];
  }),
  { target: 'chatty ≥ 0.5× mitmdump -w', value: ratio('mitmdump -w', 'chatty'), holds: (v: number) => v >= 0.5 },
  { target: 'RTT p50 ≤ 1.5× microsocks', value: ratio('microsocks', 'rttP50'), holds: (v: number) => v <= 1.5 },
  { target: 'full decode ≥ 1,000,000 small frames/s', value: framing.smallDecodeFramesPerS, holds: (v: number) => v >= 1e6 },
  { target: '1 B chunks ≤ 10× the per-byte cost of 64 KiB', value: framing.oneByteVs64KiB, holds: (v: number) => v <= 10 },
  { target: 'capture ≤ 1.5× the relayed bytes (bulk MRIM)', value: ours.captureBulkMrim, holds: (v: number) => v <= 1.5 },
  { target: 'capture ≤ 1.5× the relayed bytes (raw bulk)', value: ours.captureBulk, holds: (v: number) => v <= 1.5 },
  { target: 'memory ≤ 64 KiB per idle connection', value: cap.rssPerIdleConnKiB, holds: (v: number) => v <= 64 },
  { target: 'no frame lost from the capture', value: cap.framesLost, holds: (v: number) => v === 0 },
].map(({ target, value, holds, floor }: { target: string; value: number | undefined; holds: (v: number) => boolean; floor?: number }) => ({
  target,
  value,
  holds: value === undefined ? undefined : holds(value),
  ...(floor !== undefined ? { floorVsBare: floor } : {}),
}));
const seconds = (performance.now() - started) / 1000;
const report = { node: process.version, quick, seconds, framing, proxy, capacity: cap, storedCapture: stored, captureCost, chattyFrameBytes, targets };
if (asJson) {
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
} else {
  log('\n1. Framing and decoding (realistic S→C mix)\n' + t1.toString());
  log(`small-frame decodeFrame: ${k(framing.smallDecodeFramesPerS)} frames/s (${framing.smallFrameBytes} B average); 1 B chunks cost ${f(framing.oneByteVs64KiB)}× per byte of 64 KiB`);
  log(`\n2. Proxy throughput and latency (bulk: ${BULK_BYTES / MB} MB in 64 KiB writes of raw non-MRIM bytes; bulk MRIM: the same in 64 KiB MESSAGE frames; chatty: ${(chattyBytes / MB).toFixed(1)} MB of ${chattyFrameBytes} B MESSAGE frames; median of ${ROUNDS} rounds, the peers taking turns). MB/s are until the capture holds the round (for peers that record), delivered until the sink has it\n` + t2.toString());
  log(`\n3. Capacity (mrimtap --record): ${cap.idle} idle sessions ${f(cap.rssPerIdleConnKiB)} KiB RSS each; ${cap.active} active × ${cap.framesPerSession} frames: ${k(cap.activeFramesPerS)} frames/s; frames lost from the capture: ${cap.framesLost} (${cap.framesRecorded}/${cap.framesExpected})`);
  log(`4. Capture cost through the proxy: ${f(ours.captureBulk, 2)}× (raw bulk: decoded for its first 64 KiB, recorded whole), ${f(ours.captureBulkMrim, 2)}× (bulk MRIM) and ${f(ours.captureChatty, 2)}× (chatty) the relayed bytes; decode of a stored ${f(stored.captureMB)} MB capture: ${k(stored.framesPerS)} frames/s, ${f(stored.MBps)} MB/s`);
  log('Capture writer and reader alone (the events a tap makes, written to a capture and read back):\n' + t3.toString());
  log('\nTargets (issue 12):');
  for (const t of targets) {
    const floor = 'floorVsBare' in t ? ` (the recording floor, bare relay --record, reaches ${f(t.floorVsBare, 2)})` : '';
    log(`  ${t.holds === undefined ? 'skipped' : t.holds ? 'holds  ' : 'misses '} ${t.target}: ${t.value === undefined ? '–' : f(t.value, 2)}${floor}`);
  }
  log(`\n${f(seconds, 0)} s`);
}
