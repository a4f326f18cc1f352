// decodeFields reads each layout with a function made for it: the rules of the spec loop it writes out
// (presence, optional end, empty-accepting types, truncation, spread, spans) are checked here on a layout
// of its own, as the packet table's round trips check them for every packet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PayloadReader, PayloadWriter } from '../../src/protocol/buffer.js';
import { decodeFields, field, fieldContext, lpsRecordType, restType, spread, ul, type Fields, type Layout } from '../../src/protocol/fields.js';

const pair = lpsRecordType([ul('a'), ul('b')]);
const LAYOUT: Layout = [
  ul('count'),
  ul('only when count is 2', { when: (c) => c.fields.count === 2 }),
  spread('inner', pair),
  ul('last "odd" name', { optional: true }),
];

function read(payload: Buffer, spans = false): { fields: Fields; warnings: string[]; spans?: Record<string, [number, number]> } {
  const fields: Fields = {};
  const c = fieldContext(21, 's2c', fields);
  if (spans) c.spans = { frame: payload, ranges: {} };
  decodeFields(LAYOUT, new PayloadReader(payload), c);
  return { fields, warnings: c.warnings, ...(spans ? { spans: c.spans!.ranges } : {}) };
}

const inner = new PayloadWriter().ul(7).ul(8).finish();

describe('decodeFields', () => {
  it('skips a field whose condition fails, merges a spread field, leaves an optional last field out', () => {
    const r = read(new PayloadWriter().ul(1).lps(inner).finish());
    assert.deepEqual(r.fields, { count: 1, a: 7, b: 8 });
    assert.deepEqual(r.warnings, []);
  });

  it('reads a field whose condition holds and names that need quoting', () => {
    const r = read(new PayloadWriter().ul(2).ul(5).lps(inner).ul(9).finish());
    assert.deepEqual(r.fields, { count: 2, 'only when count is 2': 5, a: 7, b: 8, 'last "odd" name': 9 });
  });

  it('stops at a missing field and at one cut short, saying which', () => {
    assert.deepEqual(read(new PayloadWriter().ul(1).finish()).warnings, ['truncated: field "inner" missing (payload ended)']);
    const cut = read(Buffer.concat([new PayloadWriter().ul(1).finish(), Buffer.from([9, 0, 0, 0, 1])]));
    assert.equal(cut.warnings.at(-1), 'truncated: field "inner" runs past the end of the payload');
    assert.deepEqual(cut.fields, { count: 1 });
  });

  it('records where each field lies, nested ones with their path', () => {
    const r = read(new PayloadWriter().ul(2).ul(5).lps(inner).finish(), true);
    assert.deepEqual(r.spans, { count: [0, 4], 'only when count is 2': [4, 8], 'inner.a': [12, 16], 'inner.b': [16, 20], inner: [8, 20] });
  });

  it('reads an empty-accepting type at the end of the payload', () => {
    const fields: Fields = {};
    const c = fieldContext(21, 's2c', fields);
    decodeFields([ul('n'), field('rest', restType)], new PayloadReader(new PayloadWriter().ul(3).finish()), c);
    assert.deepEqual(fields, { n: 3, rest: '' });
    assert.deepEqual(c.warnings, []);
  });
});
