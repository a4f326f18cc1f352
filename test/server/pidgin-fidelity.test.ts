// The real pidgin-mra (MRIM 1.8) with text CP1251 cannot carry: it sends raw UTF-8, which the server
// must route as the text it is; what it cannot be given arrives as "?" without breaking it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MrimServer, type ServerLogEvent } from '../../src/server/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin, type PidginEvent, type PidginSession } from '../interop/pidgin.js';

const skip = (await isPidginAvailable()) ? false : ((await pidginUnavailableReason()) ?? 'pidgin-mra is not available');
const WAIT = 5000;

describe('pidgin-mra and characters CP1251 lacks', { skip, timeout: 60_000 }, () => {
  let server: MrimServer;
  let pidgin: PidginSession;
  let bob: RawClient;
  const logs: ServerLogEvent[] = [];

  before(async () => {
    server = new MrimServer({
      port: 0,
      redirectorPort: false,
      users: [
        { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', contacts: [{ email: 'bob@mail.ru', nick: 'Боб' }] },
        { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', contacts: [{ email: 'alice@mail.ru', nick: 'Алиса' }] },
      ],
      log: (e) => logs.push(e),
    });
    const { port } = await server.listen();
    bob = await RawClient.connect(port, '1.21');
    await bob.login('bob@mail.ru', 'bobpw');
    pidgin = await startPidgin({ host: '127.0.0.1', port, login: 'alice@mail.ru', password: 'alicepw' });
    await pidgin.waitFor('signed-on', WAIT);
  });

  after(async () => {
    await pidgin?.close();
    await bob?.close();
    await server?.close();
    assert.equal(pidgin?.crashed, false, `pidgin-mra crashed:\n${pidgin?.stderr.slice(-2000)}`);
  });

  it('its raw UTF-8 reaches a 1.21 client as the text typed, and the server notes the UTF-8', async () => {
    const text = 'Смотри → туда ✓';
    await pidgin.sendMessage('bob@mail.ru', text);
    const got = await bob.next('MESSAGE_ACK', WAIT);
    assert.equal(got.fields.text, text);
    assert.ok(!logs.some((e) => e.event === 'bad-frame'), 'no decoder warning');
    assert.ok(logs.some((e) => e.event === 'note' && e.packet === 'MESSAGE' && /UTF-8 where CP1251 was expected/.test(e.text)));
  });

  it('what CP1251 cannot carry arrives as "?" (and is logged as such), and pidgin-mra shows the rest', async () => {
    bob.send('MESSAGE', { flags: 0, to: 'alice@mail.ru', text: 'Ω и ✓ дошли?', rtf: ' ' });
    const got = await pidgin.waitFor((e: PidginEvent) => e.event === 'im' && e.from === 'bob@mail.ru', WAIT);
    assert.equal(got.event === 'im' && got.text, '? и ? дошли?');
    assert.ok(logs.some((e) => e.event === 'message' && /delivered as "\? и \? дошли\?"/.test(e.text)));
  });
});
