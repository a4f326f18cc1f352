// The session rules of the packet table, as the conversation object and the session decoder apply
// them: version learning, login, reply correlation, the TLS switch; and the typed encoder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacket } from '../../src/protocol/codec.js';
import { Conversation, hasReply } from '../../src/protocol/conversation.js';
import { parseProto } from '../../src/protocol/header.js';
import { PACKETS, type PacketDef } from '../../src/protocol/packets/index.js';
import { SessionDecoder } from '../../src/protocol/session.js';

const v = parseProto;

/** A client and a server conversation wired back to back. */
function pair(clientProto = '1.21') {
  const client = new Conversation('client', v(clientProto));
  const server = new Conversation('server');
  const toServer = (type: Parameters<Conversation['send']>[0], fields?: object) => server.receive(client.send(type, fields as never).frame);
  return { client, server, toServer };
}

describe('Conversation: one endpoint of a session', () => {
  it('a server learns the client version from its first frame and answers in it', () => {
    const { server, toServer } = pair('1.8');
    const hello = toServer('HELLO');
    assert.equal(hello.frame.minor, 8);
    assert.equal(server.minor, 8);
    const ack = server.send('HELLO_ACK', { pingPeriod: 30 }, { seq: hello.frame.seq });
    assert.equal(ack.frame.readUInt32LE(4), v('1.8'));
    assert.equal(ack.frame.readUInt32LE(8), hello.frame.seq, 'a reply copies the request seq');
    assert.deepEqual(ack.replyTo && [ack.replyTo.type, ack.replyTo.seq], ['HELLO', hello.frame.seq]);
  });

  it('re-learns the version from HELLO and the login packets until the login is accepted, not after', () => {
    const server = new Conversation('server');
    const frame = (type: 'HELLO' | 'LOGIN2' | 'PING', proto: string, seq: number) => encodePacket(type, {}, { proto, seq });
    server.receive(frame('PING', '1.7', 1));
    assert.equal(server.minor, 7, 'first frame');
    server.receive(frame('PING', '1.9', 2));
    assert.equal(server.minor, 7, 'PING does not teach the version');
    server.receive(frame('HELLO', '1.8', 3));
    assert.equal(server.minor, 8);
    const login = server.receive(encodePacket('LOGIN2', { login: 'a@mail.ru', password: 'p' }, { proto: '1.21', seq: 4 }));
    assert.equal(server.minor, 21);
    assert.equal(server.state.login, 'a@mail.ru');
    assert.equal(server.state.loggedIn, false);
    server.send('LOGIN_ACK', {}, { seq: login.frame.seq });
    assert.equal(server.state.loggedIn, true, 'LOGIN_ACK accepts the login');
    server.receive(frame('HELLO', '1.23', 5));
    assert.equal(server.minor, 21, 'settled after login');
  });

  it('LOGIN_REJ does not accept the login', () => {
    const server = new Conversation('server');
    const login = server.receive(encodePacket('LOGIN2', { login: 'a@mail.ru' }, { proto: '1.8', seq: 1 }));
    server.send('LOGIN_REJ', { reason: 'Invalid login' }, { seq: login.frame.seq });
    assert.equal(server.state.loggedIn, false);
  });

  it('numbers its own frames and matches replies by seq, by "last" and by field', () => {
    const { client, server, toServer } = pair();
    const first = client.send('PING');
    const second = client.send('PING');
    assert.deepEqual([first.seq, second.seq], [1, 2]);
    const msg = toServer('MESSAGE', { flags: 0, to: 'b@mail.ru', text: 'hi' });
    const status = client.receive(server.send('MESSAGE_STATUS', { status: 0 }, { seq: msg.frame.seq }).frame);
    assert.equal(status.replyTo?.type, 'MESSAGE');
    assert.equal(status.replyTo?.seq, msg.frame.seq);
    const incoming = client.receive(server.send('MESSAGE_ACK', { msgId: 77, flags: 0, from: 'b@mail.ru', text: 'yo' }).frame);
    assert.equal(incoming.replyTo, undefined);
    const recv = server.receive(client.send('MESSAGE_RECV', { from: 'b@mail.ru', msgId: 77 }).frame);
    assert.equal(recv.replyTo?.type, 'MESSAGE_ACK', 'MESSAGE_RECV answers MESSAGE_ACK by msgId');
  });

  it('an OK to STARTTLS switches both endpoints; a FAILURE does not', () => {
    const refused = pair();
    const r = refused.toServer('STARTTLS');
    refused.client.receive(refused.server.send('FAILURE', { code: 1 }, { seq: r.frame.seq }).frame);
    assert.equal(refused.client.state.tls, false);
    const { client, server, toServer } = pair();
    const req = toServer('STARTTLS');
    const ok = server.send('OK', {}, { seq: req.frame.seq });
    assert.equal(ok.switchTo, 'tls');
    assert.equal(server.state.tls, true);
    assert.equal(client.receive(ok.frame).switchTo, 'tls');
    assert.equal(client.state.tls, true);
  });
});

describe('SessionDecoder: the same rules seen from between the endpoints', () => {
  it('learns the version, the login and the TLS switch from the table', () => {
    const s = new SessionDecoder({ detectPreamble: false });
    s.push('c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }));
    s.push('c2s', encodePacket('LOGIN2', { login: 'x@mail.ru', password: 'p' }, { proto: '1.21', seq: 2 }));
    assert.deepEqual([s.minor, s.login], [21, 'x@mail.ru']);
    s.push('s2c', encodePacket('LOGIN_ACK', {}, { proto: '1.21', seq: 2 }));
    s.push('c2s', encodePacket('STARTTLS', {}, { proto: '1.21', seq: 3 }));
    const [ok] = s.push('s2c', encodePacket('OK', {}, { proto: '1.21', seq: 3 }));
    assert.equal(ok.kind === 'frame' && ok.replyTo?.type, 'STARTTLS');
    assert.equal(s.tls, true);
    const [tls] = s.push('c2s', Buffer.from('16030100', 'hex'));
    assert.equal(tls.kind, 'tls');
  });
});

describe('The packet table: session rules', () => {
  const defs = PACKETS as readonly PacketDef[];
  const named = (pred: (d: PacketDef) => unknown) => defs.filter(pred).map((d) => d.name).sort();

  it('names the packets that teach the version, carry the login, switch, and may precede login', () => {
    assert.deepEqual(named((d) => d.session?.learnsVersion), ['HELLO', 'LOGIN', 'LOGIN2', 'LOGIN3']);
    assert.deepEqual(named((d) => d.session?.login), ['LOGIN', 'LOGIN2', 'LOGIN3']);
    assert.deepEqual(named((d) => d.session?.switchesTo), ['COMPRESS_SERVER_STREAM', 'STARTTLS']);
    assert.deepEqual(named((d) => d.session?.accepts), ['LOGIN_ACK', 'OK']);
    assert.deepEqual(named((d) => d.session?.beforeLogin), ['CAPABILITIES', 'DISCONNECT', 'HELLO', 'LOGIN', 'LOGIN2', 'LOGIN3', 'PING', 'STARTTLS']);
  });

  it('every error reply encodes with the fields the table gives it', () => {
    for (const d of defs) {
      const reply = d.session?.errorReply;
      if (reply) assert.doesNotThrow(() => encodePacket(defs.find((p) => p.name === reply.type)!.code, reply.fields, { proto: '1.21' }), d.name);
    }
  });

  it('says which requests get an answer the sender can wait for', () => {
    assert.equal(hasReply('HELLO', 'c2s'), true);
    assert.equal(hasReply('PING', 'c2s'), false);
    assert.equal(hasReply('MESSAGE_ACK', 's2c'), false, 'MESSAGE_RECV matches by field: nobody waits for it');
  });
});

describe('encodePacket: fields are checked against the layout', () => {
  it('rejects a key the layout does not declare, naming the ones it does', () => {
    // @ts-expect-error — a misspelt field is a compile error (the issue's example)
    assert.throws(() => encodePacket('MESSAGE_RECV', { form: 'a@mail.ru', msgid: 7 }, { proto: '1.21' }), /MESSAGE_RECV has no fields "form", "msgid" \(its fields: from, msgId\)/);
    assert.throws(() => encodePacket(0x1006, { anything: 1 }, { proto: '1.21' }), /PING has no field "anything" \(its fields: none\)/);
  });

  it('accepts the keys of every wire form and of spread records', () => {
    assert.doesNotThrow(() => encodePacket('USER_STATUS', { status: 1, statusUri: 'status_1', user: 'a@mail.ru', userAgent: 'x' }, { proto: '1.21' }));
    assert.doesNotThrow(() => encodePacket('CONTACT_LIST2', { status: 0, groups: [{ flags: 0, name: 'G' }], contacts: [] }, { proto: '1.21' }));
  });

  it('packet names are a type: a misspelt one does not compile', () => {
    // @ts-expect-error — not a packet of the table
    assert.throws(() => encodePacket('LOGN2', {}, { proto: '1.21' }), /unknown packet type "LOGN2"/);
  });
});
