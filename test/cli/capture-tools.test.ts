/**
 * The capture tools end to end, as a new user would go: import a tcpdump capture of an MRIM session,
 * open it in Wireshark (tshark) with MRIM packet names, print the stats tables, and share a redacted
 * copy that still replays against a server knowing the substitute password.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openCapture } from '../../src/capture/open.js';
import { MrimServer } from '../../src/server/server.js';
import { ROOT } from '../helpers/cli.js';
import { captureFileErrors } from '../helpers/json-schema.js';
import { loginAnswer } from '../helpers/net.js';
import { runCli } from '../helpers/server-cli.js';
import { tshark, tsharkMissing } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-capture-tools-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('import a tcpdump capture → Wireshark with MRIM names → stats → a redacted copy that replays', { skip: tsharkMissing }, async () => {
  const pcap = join(ROOT, 'test', 'fixtures', 'vectors', 'pidgin-mra-1.8-session.pcap');
  const capture = join(dir, 'session.jsonl');
  assert.equal((await runCli(['import', pcap, '-o', capture])).code, 0);

  const pcapng = join(dir, 'session.pcapng');
  const lua = join(dir, 'mrim.lua');
  assert.equal((await runCli(['export', capture, '--pcapng', pcapng, '--dissector', lua])).code, 0);
  const info = await tshark(['-r', pcapng, '-X', `lua_script:${lua}`, '-Y', 'mrim', '-T', 'fields', '-e', '_ws.col.Info']);
  assert.match(info, /^MRIM LOGIN2$/m);
  assert.match(info, /^MRIM MESSAGE$/m);

  const stats = await runCli(['stats', capture]);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /│ LOGIN2 +│ +2 │/);
  assert.match(stats.stdout, /│ LOGIN2 → LOGIN_ACK +│ +2 │/);

  const shared = join(dir, 'shared.jsonl');
  const redacted = await runCli(['redact', capture, '-o', shared, '--messages']);
  assert.equal(redacted.code, 0, redacted.stderr);
  assert.deepEqual(captureFileErrors(shared), []);

  const server = new MrimServer({ port: 0, redirectorPort: false, users: [{ login: 'alice@mail.ru', password: 'redacted' }, { login: 'bob@mail.ru', password: 'redacted' }] });
  const { port } = await server.listen();
  try {
    const sent = new Map<number, Buffer[]>();
    for await (const e of (await openCapture(shared)).entries) {
      if (e.kind === 'event' && e.event.event.kind === 'frame' && e.event.event.dir === 'c2s') sent.set(e.event.conn, [...(sent.get(e.event.conn) ?? []), e.event.event.raw]);
    }
    assert.equal(sent.size, 2);
    for (const [conn, frames] of sent) assert.equal(await loginAnswer(port, frames.slice(0, 2)), 'LOGIN_ACK', `connection #${conn}`);
  } finally {
    await server.close();
  }
});
