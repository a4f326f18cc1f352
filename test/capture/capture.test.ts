/** Recording with `mrimtap proxy --record`, reading captures back, and `mrimtap decode CAPTURE`. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CaptureFileError, type CaptureEntry } from '../../src/capture/format.js';
import { defaultCapturePath, readCapture, type CaptureItem } from '../../src/capture/jsonl.js';
import { createWriter, openCapture } from '../../src/capture/open.js';
import { encodePacket } from '../../src/protocol/codec.js';
import { tapEventToJson } from '../../src/tap/line.js';
import { spawnCli, ROOT } from '../helpers/cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { runCli } from '../helpers/server-cli.js';
import { FrameQueue, readAll, socksConnect } from '../helpers/net.js';
import { answerEachRequest, startScriptedServer } from '../helpers/scripted-server.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-capture-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function items(path: string): Promise<CaptureItem[]> {
  const out: CaptureItem[] = [];
  for await (const item of readCapture(path)) out.push(item);
  return out;
}

describe('proxy --record and decode CAPTURE', () => {
  const capturePath = join(dir, 'session.jsonl');
  const sentByClient = [
    encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }),
    encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'capture test' }, { proto: '1.8', seq: 2 }),
    encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет из записи', rtf: ' ' }, { proto: '1.8', seq: 3 }),
  ];
  let sentByServer: Buffer[] = [];
  let stderrAtStop = '';

  /** Runs the sentByClient exchange through `proxy --record path ...extra`; returns what the server sent and the proxy's stderr at stop. */
  async function recordExchange(path: string, extra: string[] = []): Promise<{ sent: Buffer[]; stderr: string }> {
    const upstream = await startScriptedServer(answerEachRequest());
    const proxy = spawnCli(['proxy', '--port', '0', '--record', path, '--quiet', ...extra]);
    try {
      const [, port] = await proxy.waitFor(/SOCKS5 on 127\.0\.0\.1:(\d+)/);
      const client = await socksConnect(Number(port), '127.0.0.1', upstream.port);
      const q = new FrameQueue(client);
      for (const f of sentByClient) {
        client.write(f);
        await q.next();
      }
      client.end();
      await readAll(client);
      // Written as it happens: the close is in the file before the proxy stops.
      const deadline = Date.now() + 5000;
      while (!readFileSync(path, 'utf8').includes('"kind":"close"')) {
        if (Date.now() > deadline) throw new Error('the close event never reached the capture');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(await proxy.stop('SIGINT'), 0);
      return { sent: upstream.connections[0].sent, stderr: proxy.stderr() };
    } finally {
      if (proxy.child.exitCode === null) await proxy.stop('SIGKILL');
      await upstream.close();
    }
  }
  const lineOf = (path: string, type: string) =>
    readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.type === type)!;

  before(async () => {
    ({ sent: sentByServer, stderr: stderrAtStop } = await recordExchange(capturePath));
  });

  it('holds exactly the frames exchanged, with a header, in a file only its owner can read, valid by the schema', async () => {
    assert.equal(statSync(capturePath).mode & 0o777, 0o600);
    assert.deepEqual(captureFileErrors(capturePath), []);
    const all = await items(capturePath);
    const header = all[0];
    assert.ok(header.kind === 'header');
    assert.equal(header.header.format, 'mrimtap-capture');
    assert.equal(header.header.version, 2);
    assert.match(header.header.tool, /^mrimtap \d/);
    assert.match(header.header.listen ?? '', /^127\.0\.0\.1:\d+$/);
    assert.ok(!Number.isNaN(Date.parse(header.header.started)));
    const events = all.flatMap((i) => (i.kind === 'event' ? [i.event] : []));
    assert.ok(all.every((i) => i.kind !== 'problem'));
    const raw = (d: string) => events.flatMap((e) => (e.event.kind === 'frame' && e.event.dir === d ? [e.event.raw] : []));
    assert.deepEqual(raw('c2s'), sentByClient);
    assert.deepEqual(raw('s2c'), sentByServer);
    assert.deepEqual(
      events.map((e) => e.event.kind),
      ['connect', 'open', 'frame', 'frame', 'frame', 'frame', 'frame', 'frame', 'close'],
    );
    assert.ok(events.every((e) => e.conn === 1 && e.client.host === '127.0.0.1'));
    // Whole in the raw bytes (so the capture can be decoded and replayed); no decoded fields unless asked.
    const login = lineOf(capturePath, 'LOGIN2');
    assert.equal(login.fields, undefined);
    assert.ok(Buffer.from(String(login.raw64), 'base64').includes('hunter2'));
    assert.match(stderrAtStop, /1 connection\n\s+9 events recorded in/);
  });

  it('--record-fields keeps each small frame\'s decoded fields in its line, secrets masked', async () => {
    const path = join(dir, 'with-fields.jsonl');
    await recordExchange(path, ['--record-fields']);
    assert.deepEqual(captureFileErrors(path), []);
    const login = lineOf(path, 'LOGIN2');
    assert.deepEqual(login.fields, { login: 'alice@mail.ru', password: '********', status: 1, description: 'capture test' });
    assert.equal((lineOf(path, 'MESSAGE').fields as Record<string, unknown>).text, 'Привет из записи');
    const r = await runCli(['proxy', '--record-fields']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--record-fields goes with --record/);
  });

  it('decode CAPTURE prints the session with the live log renderer', async () => {
    const r = await runCli(['decode', capturePath]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^capture by mrimtap /);
    assert.match(r.stdout, /#1 SOCKS5 CONNECT 127\.0\.0\.1:\d+ → 0 succeeded/);
    assert.match(r.stdout, /#1 OPEN 127\.0\.0\.1:\d+ ⇄ 127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /#1 C→S LOGIN2 seq=2 v1\.8 \d+ B\n\s+login\s+alice@mail\.ru\n\s+password\s+\*{8} \(plaintext\)/);
    assert.match(r.stdout, /#1 S→C LOGIN_ACK seq=2 v1\.8 44 B ↩ LOGIN2 \+\d+ ms/);
    assert.match(r.stdout, /text\s+Привет из записи/);
    assert.match(r.stdout, /#1 CLOSE C→S \d+ B, S→C \d+ B in .* — client closed first/);
    assert.doesNotMatch(r.stdout, /hunter2/);

    const secrets = await runCli(['decode', capturePath, '--show-secrets', '--filter', 'type=LOGIN2']);
    assert.match(secrets.stdout, /password\s+hunter2/);
  });

  it('decode CAPTURE --filter selects by type, direction, connection and login', async () => {
    const types = async (filter: string) => {
      const r = await runCli(['decode', capturePath, '--filter', filter]);
      assert.equal(r.code, 0, r.stderr);
      return [...r.stdout.matchAll(/#\d+ (?:[CS]→[CS] )?(\S+)/g)].map((m) => m[1]);
    };
    assert.deepEqual(await types('type=MESSAGE*'), ['MESSAGE', 'MESSAGE_STATUS']);
    assert.deepEqual(await types('dir=s2c'), ['HELLO_ACK', 'LOGIN_ACK', 'MESSAGE_STATUS']);
    assert.deepEqual(await types('dir=c2s !type=HELLO'), ['LOGIN2', 'MESSAGE']);
    assert.deepEqual(await types('type!=open,close,SOCKS*,connect conn=1 login=ALICE@*'), ['LOGIN2', 'LOGIN_ACK', 'MESSAGE', 'MESSAGE_STATUS']);
    assert.deepEqual(await types('conn=2-9'), []);
    const bad = await runCli(['decode', capturePath, '--filter', 'colour=red']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mrimtap: --filter: unknown field "colour"/);
  });

  it('decode CAPTURE --json gives the recorded events back, every field decoded, the password masked in raw too unless --show-secrets', async () => {
    const r = await runCli(['decode', capturePath, '--json']);
    assert.equal(r.code, 0, r.stderr);
    // The recorded events as the one JSON form of the line format with every field (what --json prints).
    const recorded = (await items(capturePath)).flatMap((i) => (i.kind === 'event' ? [JSON.parse(JSON.stringify(tapEventToJson(i.event, { keepRaw: true }))) as Record<string, unknown>] : []));
    const printed = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const hunter2 = Buffer.from('hunter2').toString('hex');
    // The recording keeps the raw bytes whole; what is displayed does not show them.
    assert.ok(recorded.some((l) => String(l.raw).includes(hunter2)));
    assert.ok(!r.stdout.includes(hunter2));
    const unmask = (l: Record<string, unknown>) => (l.type === 'LOGIN2' ? { ...l, raw: undefined } : l);
    assert.deepEqual(printed.map(unmask), recorded.map(unmask));
    assert.equal(printed.find((l) => l.type === 'LOGIN2')!.raw, String(recorded.find((l) => l.type === 'LOGIN2')!.raw).replace(hunter2, '2a'.repeat(7)));
    const shown = await runCli(['decode', capturePath, '--json', '--show-secrets']);
    const withSecrets = shown.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      withSecrets.map((l) => l.raw),
      recorded.map((l) => l.raw),
    );
  });

  it('a capture cut mid-line is still readable, with a warning naming the line', async () => {
    const text = readFileSync(capturePath, 'utf8');
    const cut = join(dir, 'cut.jsonl');
    const lastLine = text.lastIndexOf('\n', text.length - 2);
    writeFileSync(cut, text.slice(0, lastLine + 20));
    const r = await runCli(['decode', cut]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /cut\.jsonl: line 10: the last line is incomplete \(recording cut short\): skipped/);
    assert.match(r.stdout, /MESSAGE_STATUS/);
    assert.doesNotMatch(r.stdout, /CLOSE/);
  });
});

describe('capture files', () => {
  it('the reader reports invalid lines by number and goes on', async () => {
    const path = join(dir, 'damaged.jsonl');
    const w = createWriter(path, { source: 'test' });
    const client = { host: '127.0.0.1', port: 5000 };
    w.write({ conn: 1, client, event: { kind: 'note', time: 0, level: 'info', message: 'first' } });
    w.close();
    writeFileSync(path, readFileSync(path, 'utf8') + 'not json\n{"conn":1}\n' + '{"conn":1,"kind":"note","time":"1970-01-01T00:00:00.000Z","client":"127.0.0.1:5000","level":"warn","message":"last"}\n');
    const all = await items(path);
    assert.deepEqual(
      all.map((i) => (i.kind === 'problem' ? `${i.line}: ${i.message}` : i.kind)),
      ['header', 'event', '3: not JSON: skipped', '4: not a capture record (missing or invalid kind): skipped', 'event'],
    );
  });

  it('refuses a file that is not a capture, with a one-line error', async () => {
    const path = join(dir, 'other.jsonl');
    writeFileSync(path, '{"hello":"world"}\n');
    await assert.rejects(items(path), /not a mrimtap capture/);
    const r = await runCli(['decode', path]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mrimtap: .*other\.jsonl: not a mrimtap capture: the first line has no "format": "mrimtap-capture"\n$/);
    const text = join(dir, 'text.txt');
    writeFileSync(text, 'hello');
    assert.match((await runCli(['decode', text])).stderr, /is not a capture: expected a mrimtap recording/);
    assert.match((await runCli(['decode', join(dir, 'missing.jsonl')])).stderr, /no such file/);
    assert.match((await runCli(['decode'])).stderr, /nothing to decode/);
    const direction = await runCli(['decode', path, '--from', 'client']);
    assert.equal(direction.code, 2);
    assert.equal(direction.stderr, 'mrimtap: --from and --proto go with --raw FILE; a capture says who sent each frame and in which version\n');
  });

  it('proxy: a folder to record to is a one-line error (2), a port in use too (1)', async () => {
    const folder = await runCli(['proxy', '--port', '0', '--record', dir]);
    assert.equal(folder.code, 2, folder.stderr);
    assert.equal(folder.stderr, `mrimtap: cannot record to ${dir}: is a directory\n`);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const busy = await runCli(['proxy', '--port', String(port)]);
      assert.equal(busy.code, 1, busy.stderr);
      assert.equal(busy.stderr, `mrimtap: cannot listen on 127.0.0.1:${port}: the port is in use (pick another with --port)\n`);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('an existing file is made owner-only when recorded over', () => {
    const path = join(dir, 'existing.jsonl');
    writeFileSync(path, 'old', { mode: 0o644 });
    createWriter(path, {}).close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  it('openCapture tells the formats by their first bytes, and names the file in its errors', async () => {
    const entries = async (path: string) => {
      const capture = await openCapture(path);
      const out: CaptureEntry[] = [];
      for await (const e of capture.entries) out.push(e);
      return { ...capture, entries: out };
    };
    const recording = join(dir, 'opened.jsonl');
    const w = createWriter(recording, { source: 'test', started: new Date(Date.UTC(2024, 0, 31)) });
    w.write({ conn: 1, client: { host: '127.0.0.1', port: 5000 }, event: { kind: 'note', time: 0, level: 'info', message: 'hello' } });
    w.close();
    writeFileSync(recording, readFileSync(recording, 'utf8') + 'torn');
    const jsonl = await entries(recording);
    assert.equal(jsonl.format, 'mrimtap');
    assert.match(jsonl.description, /^capture by mrimtap \S+, started 2024-01-31T00:00:00\.000Z from test$/);
    assert.deepEqual(
      jsonl.entries.map((e) => (e.kind === 'event' ? e.event.event.kind : e.message)),
      ['note', 'line 3: the last line is incomplete (recording cut short): skipped'],
    );

    const pcap = await entries(join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap'));
    assert.equal(pcap.format, 'pcap');
    assert.match(pcap.description, /^pcap: \d+ packets, 2 TCP connections$/);
    assert.match(pcap.entries.find((e) => e.kind === 'problem')?.message ?? '', /\(file offset \d+\)$/);
    assert.ok(pcap.entries.some((e) => e.kind === 'event' && e.event.event.kind === 'frame' && e.event.event.frame.type === 'LOGIN2'));

    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello');
    await assert.rejects(openCapture(text), (e: Error) => e instanceof CaptureFileError && e.message === `${text} is not a capture: expected a mrimtap recording (.jsonl) or a mrimtap capture document (.json) or a pcap/pcapng file`);
    const pcapHead = join(dir, 'short.pcap');
    writeFileSync(pcapHead, Buffer.from('d4c3b2a10200', 'hex'));
    await assert.rejects(openCapture(pcapHead), (e: Error) => e instanceof CaptureFileError && e.message.startsWith(`${pcapHead}: truncated pcap file header`));
    await assert.rejects(openCapture(join(dir, 'missing.pcap')), { code: 'ENOENT' });
  });

  it('the default name is under captures/ with the date and time', () => {
    assert.equal(defaultCapturePath(new Date(2024, 0, 31, 23, 5, 9)), join('captures', 'mrimtap-20240131-230509.jsonl'));
  });
});

describe('decode a pcap', () => {
  it('decodes every TCP connection, interleaved by time, with the same renderer', async () => {
    const pcap = join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap');
    const r = await runCli(['decode', pcap]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^pcap: \d+ packets, 2 TCP connections/);
    assert.match(r.stdout, /#1 C→S LOGIN2 seq=1 v1\.8 116 B\n\s+login\s+alice@mail\.ru/);
    assert.match(r.stdout, /#2 C→S LOGIN2 seq=1 v1\.8 112 B\n\s+login\s+bob@mail\.ru/);
    const only = await runCli(['decode', pcap, '--filter', 'login=bob@mail.ru type=MESSAGE']);
    assert.match(only.stdout, /^pcap: .*\n.*#2 C→S MESSAGE seq=2 v1\.8 \d+ B\n\s+flags\s+0\n\s+to\s+alice@mail\.ru\n\s+text\s+Привет, Alice! hello from bob/);
    const json = await runCli(['decode', pcap, '--json']);
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { conn: number; kind: string; type?: string });
    assert.deepEqual(
      lines.filter((l) => l.type === 'LOGIN2').map((l) => l.conn),
      [1, 2],
    );
  });
});
