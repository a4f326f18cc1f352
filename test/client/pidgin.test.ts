// Our client and the real pidgin-mra (MRIM 1.8, CP1251) chatting in Cyrillic through the reference
// server, with our client on each of its four profiles: messages both ways, delivery status,
// typing, presence and authorization.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MrimClient, PROFILE_NAMES, type MrimClientOptions } from '../../src/client/index.js';
import type { AuthRequest, ContactStatus, IncomingMessage } from '../../src/client/types.js';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import { nextEvent, until } from '../helpers/wait.js';
import { isPidginAvailable, pidginUnavailableReason, startPidgin } from '../interop/pidgin.js';

const skip = (await isPidginAvailable()) ? false : `pidgin-mra is not available: ${await pidginUnavailableReason()}`;

const USERS: ServerUser[] = [
  { login: 'alice@mail.ru', password: 'alicepw', nick: 'Алиса', contacts: [{ email: 'bob@mail.ru' }] },
  { login: 'bob@mail.ru', password: 'bobpw', nick: 'Боб', contacts: [{ email: 'alice@mail.ru' }] },
  { login: 'carol@mail.ru', password: 'carolpw', nick: 'Кэрол' },
];

let server: MrimServer;
let port: number;

before(async () => {
  if (skip) return;
  server = new MrimServer({ host: '127.0.0.1', port: 0, redirectorPort: false, users: USERS });
  ({ port } = await server.listen());
});

after(async () => {
  await server?.close();
});

function ourClient(login: string, proto: MrimClientOptions['proto']): MrimClient {
  return new MrimClient({ server: `127.0.0.1:${port}`, login, password: USERS.find((u) => u.login === login)!.password, proto, responseTimeoutMs: 5000 });
}

describe('our client ↔ pidgin-mra through the reference server', { skip }, () => {
  for (const proto of PROFILE_NAMES) {
    test(`profile ${proto}: Cyrillic messages both ways, delivery, typing, presence`, { timeout: 30_000 }, async () => {
      const bob = await startPidgin({ host: '127.0.0.1', port, login: 'bob@mail.ru', password: 'bobpw' });
      const alice = ourClient('alice@mail.ru', proto);
      try {
        await bob.waitFor('signed-on', 5000);
        await alice.connect();
        // Whether from CONTACT_LIST2 or a USER_STATUS after it, Bob shows online.
        await until(() => alice.contacts.contacts.find((c) => c.email === 'bob@mail.ru')?.status.name === 'online', 5000);

        const since = bob.mark();
        const delivery = await alice.sendMessage('bob@mail.ru', 'Привет, Боб! Как дела?\nВторая строка');
        assert.equal(delivery.statusName, 'DELIVERED');
        const im = await bob.waitFor((e) => e.event === 'im' && e.from === 'alice@mail.ru', 5000, { since });
        assert.equal(im.event === 'im' && im.text.replace(/\r\n/g, '\n'), 'Привет, Боб! Как дела?\nВторая строка');

        const reply = nextEvent<IncomingMessage>(alice, 'message');
        await bob.sendMessage('alice@mail.ru', 'Здравствуй, Алиса! Всё отлично, ёж.');
        const m = await reply;
        assert.deepEqual([m.from, m.text, m.offline], ['bob@mail.ru', 'Здравствуй, Алиса! Всё отлично, ёж.', false]);

        const typingAtAlice = nextEvent<{ from: string }>(alice, 'typing');
        bob.sendTyping('alice@mail.ru');
        assert.equal((await typingAtAlice).from, 'bob@mail.ru');
        const typingSince = bob.mark();
        await alice.sendTyping('bob@mail.ru');
        await bob.waitFor((e) => e.event === 'typing' && e.from === 'alice@mail.ru', 5000, { since: typingSince });

        const away = nextEvent<{ email: string; status: ContactStatus }>(alice, 'contactStatus', (e) => e.email === 'bob@mail.ru' && e.status.name === 'away');
        bob.setStatus('AWAY');
        await away;
        const statusSince = bob.mark();
        await alice.setStatus('away');
        await bob.waitFor((e) => e.event === 'buddy-status' && e.name === 'alice@mail.ru' && e.status === 'AWAY', 5000, { since: statusSince });
        assert.equal(bob.events.some((e) => e.event === 'plugin-warning'), false, JSON.stringify(bob.events.filter((e) => e.event === 'plugin-warning')));
      } finally {
        await alice.logout();
        await bob.close();
      }
      assert.equal(bob.crashed, false);
    });
  }

  test('authorization: our client adds pidgin-mra, which grants it', { timeout: 30_000 }, async () => {
    const carol = await startPidgin({ host: '127.0.0.1', port, login: 'carol@mail.ru', password: 'carolpw' });
    const alice = ourClient('alice@mail.ru', '1.21');
    try {
      await carol.waitFor('signed-on', 5000);
      await alice.connect();
      const contact = await alice.addContact('carol@mail.ru', { nick: 'Кэрол', authText: 'Добавь меня, пожалуйста' });
      assert.equal(contact.authorized, false);
      const request = await carol.waitFor('auth-request', 5000);
      assert.equal(request.from, 'alice@mail.ru');
      const granted = nextEvent<{ from: string }>(alice, 'authGranted');
      // pidgin-mra grants by AUTHORIZE and adds us back: its ADD_CONTACT reaches us as an auth request.
      const back = nextEvent<AuthRequest>(alice, 'authRequest', (r) => r.from === 'carol@mail.ru');
      carol.authorize('alice@mail.ru');
      assert.equal((await granted).from, 'carol@mail.ru');
      assert.equal(alice.contacts.contacts.find((c) => c.email === 'carol@mail.ru')?.authorized, true);
      assert.equal((await back).nick, 'Кэрол');
      await alice.authorize('carol@mail.ru');
      await alice.removeContact('carol@mail.ru');
    } finally {
      await alice.logout();
      await carol.close();
    }
    assert.equal(carol.crashed, false);
  });
});
