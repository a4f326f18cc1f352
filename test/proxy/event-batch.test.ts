import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodePacket } from '../../src/protocol/codec.js';
import { EventBatcher, writeBatch } from '../../src/proxy/event-batch.js';
import type { Endpoint } from '../../src/net/endpoint.js';
import type { TapEvent } from '../../src/tap/events.js';
import { captureLine, lineText, type LinePart } from '../../src/tap/capture-line.js';
import { tapSession, type Step } from '../helpers/tap-session.js';

const VECTORS = new URL('../fixtures/vectors/', import.meta.url);

/** The lines the writing thread writes for the events, in `cuts` batches crossing as they do (structured clone, buffers moved). */
function across(events: TapEvent[], cuts: number[], withFields: boolean): string[] {
  const batcher = new EventBatcher();
  const peers = new Map<number, { client: Endpoint; server?: Endpoint }>();
  const out: string[] = [];
  const sink = { write: (ev: TapEvent) => out.push(captureLine(ev, false, withFields)), writeLine: (parts: LinePart[]) => out.push(lineText(parts)) };
  const hand = () => {
    const { batch, transfer } = batcher.take();
    writeBatch(structuredClone(batch, { transfer }), peers, sink, withFields, false);
  };
  events.forEach((ev, i) => {
    batcher.add(ev);
    if (cuts.includes(i)) hand();
  });
  hand();
  return out;
}

const lines = (events: TapEvent[], withFields: boolean) => events.map((ev) => captureLine(ev, false, withFields));

/** Both directions of a real connection, as the proxy relays them in reads of `chunk` bytes, taking turns. */
function vectorSession(name: string, chunk: number): TapEvent[] {
  const c2s = readFileSync(new URL(`${name}.c2s.bin`, VECTORS));
  const s2c = readFileSync(new URL(`${name}.s2c.bin`, VECTORS));
  const steps: Step[] = [];
  for (let at = 0, t = 0; at < Math.max(c2s.length, s2c.length); at += chunk, t += 3) {
    if (at < c2s.length) steps.push(['c2s', c2s.subarray(at, at + chunk), t]);
    if (at < s2c.length) steps.push(['s2c', s2c.subarray(at, at + chunk), t + 1]);
  }
  return tapSession(steps);
}

const vectorNames = [...new Set(readdirSync(VECTORS).filter((f) => f.endsWith('.c2s.bin')).map((f) => f.slice(0, -'.c2s.bin'.length)))];

describe('events crossing to the writing thread', () => {
  it('make the same capture lines, with and without fields, for every connection of the real vectors', () => {
    let replies = 0;
    for (const name of vectorNames) {
      for (const chunk of [1460, 64 * 1024]) {
        const events = vectorSession(name, chunk);
        replies += events.filter((e) => e.event.kind === 'frame' && e.event.replyTo).length;
        for (const withFields of [false, true]) assert.deepEqual(across(events, [3, 10], withFields), lines(events, withFields), name);
      }
    }
    assert.ok(replies > 0);
  });

  it('keep warnings, logins, notes, garbage, addon marks and events of several connections in order', () => {
    const events = tapSession([
      ['c2s', encodePacket('HELLO', {}, { proto: '1.8', seq: 1 }), 0],
      // A server's packet from the client: a frame with a warning.
      ['c2s', encodePacket('HELLO_ACK', { pingPeriod: 30 }, { proto: '1.8', seq: 1 }), 0],
      ['c2s', Buffer.concat([Buffer.from('junk before a frame'), encodePacket('LOGIN2', { login: 'alice@mail.ru', password: 'secret', status: 1, description: '' }, { proto: '1.8', seq: 2 })]), 1],
      ['s2c', Buffer.concat([encodePacket('LOGIN_ACK', {}, { proto: '1.8', seq: 2 }), Buffer.from([1, 2, 3])]), 2],
    ]);
    const other = tapSession([['c2s', encodePacket('MESSAGE', { flags: 0, to: 'bob@mail.ru', text: 'Привет', rtf: ' ' }, { proto: '1.8', seq: 3 }), 0]], { conn: 2, into: [] });
    const marked = { ...other.find((e) => e.event.kind === 'frame')!, addon: { action: 'modified' as const, by: 'test.mjs', original: Buffer.from('was') } };
    const all = [...events, ...other, marked];
    assert.ok(all.some((e) => e.event.kind === 'frame' && e.login === 'alice@mail.ru'));
    assert.ok(all.some((e) => e.event.kind === 'frame' && e.event.frame.warnings.length > 0));
    assert.ok(all.some((e) => e.event.kind === 'garbage'));
    assert.ok(all.some((e) => e.event.kind === 'no-reply'));
    for (const withFields of [false, true]) assert.deepEqual(across(all, [], withFields), lines(all, withFields));
  });

  it('property: any cut of a real session into batches makes the same lines', () => {
    const events = vectorSession(vectorNames[0]!, 700);
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: events.length - 1 }), { maxLength: 8 }), fc.boolean(), (cuts, withFields) => {
        assert.deepEqual(across(events, cuts, withFields), lines(events, withFields));
      }),
      { numRuns: 30 },
    );
  });
});
