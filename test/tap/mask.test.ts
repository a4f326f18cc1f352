/** Masking secrets: decoded fields, raw bytes (hexdumps), SOCKS passwords, and `decode --hex` end to end. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeFrame, encodePacket, frameLayout } from '../../src/protocol/codec.js';
import { PACKETS } from '../../src/protocol/packets/index.js';
import { MASK, maskFields, maskRaw, maskSocks } from '../../src/tap/mask.js';
import { fieldsArbitrary, packetCases } from '../helpers/packet-arbitrary.js';
import { runCli } from '../helpers/server-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mrimtap-mask-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hex = (text: string) => Buffer.from(text).toString('hex');

describe('maskFields and maskRaw', () => {
  it('hide a LOGIN2 password in the fields and in the bytes, and leave the frame alone', () => {
    const raw = encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'x' }, { proto: '1.8', seq: 2 });
    const frame = decodeFrame(raw, { dir: 'c2s' });
    assert.deepEqual(maskFields(frame), { ...frame.fields, password: MASK });
    assert.equal(maskFields(frame, { encoding: true }).password, '******** (plaintext)');
    const masked = maskRaw(raw, frame);
    assert.ok(!masked.toString('hex').includes(hex('hunter2')));
    assert.ok(masked.toString('hex').includes(hex('alice@mail.ru')));
    // Same length, and still a frame: the password's length prefix is kept.
    assert.equal(masked.length, raw.length);
    const again = decodeFrame(masked, { dir: 'c2s' });
    assert.deepEqual(again.warnings, []);
    assert.equal(again.fields.password, '*******');
    assert.equal(frame.fields.password, 'hunter2');
    assert.ok(raw.toString('hex').includes(hex('hunter2')));
  });

  it('say md5 for a digest, and hide an MPOP session key', () => {
    const digest = 'a9a0198010a6073db96434f6cc5f22a8';
    const login3 = decodeFrame(encodePacket('LOGIN3', { login: 'carol@list.ru', password: digest }, { proto: '1.23' }), { dir: 'c2s' });
    assert.equal(maskFields(login3, { encoding: true }).password, '******** (md5)');
    const raw = encodePacket('MPOP_SESSION', { status: 1, session: 'f00dfeed' }, { proto: '1.23' });
    const mpop = decodeFrame(raw, { dir: 's2c' });
    assert.equal(maskFields(mpop).session, MASK);
    assert.ok(!maskRaw(raw, mpop).toString('hex').includes(hex('f00dfeed')));
  });

  it('return frames without secrets as they are', () => {
    const raw = encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'hi', rtf: ' ' }, { proto: '1.8' });
    const frame = decodeFrame(raw, { dir: 'c2s' });
    assert.equal(maskFields(frame), frame.fields);
    assert.equal(maskRaw(raw, frame), raw);
  });

  it('for every packet with a secret, in every version: only the secret bytes change, and the frame decodes the same otherwise', () => {
    const withSecrets = PACKETS.filter((def) => [def.layout ?? [], ...(def.variants ?? []).map((v) => v.layout)].some((l) => l.some((s) => s.secret)));
    assert.ok(withSecrets.length >= 4);
    for (const def of withSecrets) {
      for (const pc of packetCases(def, [8, 15, 21, 23])) {
        fc.assert(
          fc.property(fieldsArbitrary(pc), (fields) => {
            const raw = encodePacket(def.name, fields, { proto: `1.${pc.minor}`, dir: pc.dir });
            const frame = decodeFrame(raw, { dir: pc.dir });
            const masked = decodeFrame(maskRaw(raw, frame), { dir: pc.dir, minor: frame.minor });
            assert.deepEqual(masked.warnings, frame.warnings, def.name);
            for (const spec of frameLayout(frame)) {
              if (!(spec.name in frame.fields)) continue;
              if (!spec.secret) assert.deepEqual(masked.fields[spec.name], frame.fields[spec.name], `${def.name}.${spec.name}`);
              else if (frame.fields[spec.name] !== '') assert.match(String(masked.fields[spec.name]), /^(\*+|(2a)+)$/, `${def.name}.${spec.name}`);
            }
          }),
          { numRuns: 8 },
        );
      }
    }
  });
});

it('maskSocks hides the SOCKS5 password only', () => {
  assert.deepEqual(maskSocks({ type: 'auth', user: 'u', password: 'p' }), { type: 'auth', user: 'u', password: MASK });
  const greeting = { type: 'greeting' as const, methods: ['no-auth'] };
  assert.equal(maskSocks(greeting), greeting);
});

describe('decode --hex', () => {
  const file = join(dir, 'login2.bin');
  writeFileSync(file, encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'hunter2', status: 1, description: 'x' }, { proto: '1.8', seq: 2 }));
  // The hexdump's text column: the password would show as `hunter2`, split or not over two rows.
  const dumpText = (out: string) => [...out.matchAll(/^ {4}[0-9a-f]{4} {2}.{47} {2}(.*)$/gm)].map((m) => m[1]).join('');

  it('masks the password bytes of a LOGIN2', async () => {
    const r = await runCli(['decode', '--raw', file, '--from', 'client', '--hex']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /password\s+\*{8} \(plaintext\)/);
    assert.doesNotMatch(dumpText(r.stdout), /hunter2/);
    assert.match(dumpText(r.stdout), /alice@mail\.ru.*\*{7}/);
    assert.ok(!r.stdout.replace(/\s/g, '').includes(hex('hunter2')));
  });

  it('shows them with --show-secrets', async () => {
    const r = await runCli(['decode', '--raw', file, '--from', 'client', '--hex', '--show-secrets']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /password\s+hunter2/);
    assert.match(dumpText(r.stdout), /hunter2/);
  });
});
