// Smoke tests of the pidgin-mra harness itself (no MRIM server needed): the driver
// builds, starts headless, speaks first with a HELLO, and reports errors as events.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { closedPort } from '../helpers/net.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin } from './pidgin.js';

const available = await isPidginAvailable();
const skip = available ? false : ((await pidginUnavailableReason()) ?? 'pidgin-mra unavailable');

test('pidgin-mra driver reports a refused connection and exits cleanly', { skip, timeout: 30_000 }, async () => {
  const port = await closedPort();
  const s = await startPidgin({ host: '127.0.0.1', port, login: 'alice@mail.ru', password: 'pw' });
  try {
    const ready = await s.waitFor('ready', 1000);
    assert.equal(ready.protocol, 'prpl-mra');
    const err = await s.waitFor('connection-error', 5000);
    assert.match(err.text, /refused/i);
  } finally {
    await s.close();
  }
  const exit = await s.exited;
  assert.equal(s.crashed, false);
  assert.equal(exit.signal, null);
});

test('pidgin-mra sends an MRIM 1.8 HELLO first and notices the server hanging up', { skip, timeout: 30_000 }, async () => {
  let hello: Buffer | undefined;
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 44 && !hello) {
        hello = buf.subarray(0, 44);
        sock.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const s = await startPidgin({ host: '127.0.0.1', port, login: 'alice@mail.ru', password: 'pw' });
  try {
    const err = await s.waitFor('connection-error', 5000);
    assert.ok(hello, 'server received 44 header bytes');
    assert.equal(hello.readUInt32LE(0), 0xdeadbeef);
    assert.equal(hello.readUInt32LE(4), 0x00010008);
    assert.equal(hello.readUInt32LE(12), 0x1001);
    assert.equal(hello.readUInt32LE(16), 0);
    assert.match(err.text, /closed/i);
    // libpurple's "signed-on" comes as soon as TCP is up; the real login never happened
    assert.ok(s.events.some((e) => e.event === 'connected'));
    assert.ok(!s.events.some((e) => e.event === 'signed-on'));
  } finally {
    await s.close();
    server.close();
  }
  assert.equal(s.crashed, false);
});
