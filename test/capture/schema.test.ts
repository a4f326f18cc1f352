/** The JSON Schema of captures (captures/capture.schema.json): what it accepts, what it refuses, and that the validator reads all of it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/cli.js';
import { CAPTURE_SCHEMA_PATH, SchemaValidator, captureFileErrors, captureSchema } from '../helpers/json-schema.js';

const DEMO = join(ROOT, 'captures', 'demo.jsonl');
const lines = readFileSync(DEMO, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const frame = lines.find((l) => l.kind === 'frame')!;

describe('capture schema', () => {
  it('accepts the demo recording, line by line and as one document, and a capture of version 1', () => {
    assert.deepEqual(captureFileErrors(DEMO), []);
    assert.deepEqual(captureFileErrors(join(ROOT, 'test', 'fixtures', 'captures', 'demo-v1.jsonl')), []);
    const [header, ...events] = lines;
    assert.deepEqual(captureSchema.errors({ ...header, events }), []);
    for (const l of lines) assert.deepEqual(captureSchema.errors(l, '#/$defs/line'), []);
  });

  it('refuses what a reader would not take or a writer does not write', () => {
    const errors = (v: unknown) => captureSchema.errors(v, '#/$defs/event');
    assert.notDeepEqual(errors({ ...frame, raw64: 'xyz' }), []);
    const { raw64: _bytes, ...withoutBytes } = frame;
    assert.notDeepEqual(errors(withoutBytes), []);
    assert.notDeepEqual(errors({ ...withoutBytes, raw: '00' }), []);
    assert.notDeepEqual(errors({ ...frame, dir: 'up' }), []);
    assert.notDeepEqual(errors({ ...frame, conn: -1 }), []);
    assert.notDeepEqual(errors({ ...frame, surprise: 1 }), []);
    assert.notDeepEqual(errors({ ...frame, kind: 'teleport' }), []);
    const { minor: _, ...withoutMinor } = frame;
    assert.match(errors(withoutMinor).join('\n'), /missing "minor"/);
    assert.match(captureSchema.errors({ ...lines[0], version: 3 }, '#/$defs/header').join('\n'), /3 > 2/);
  });

  it('the validator knows every keyword the schema uses (an unknown one is an error, not skipped)', () => {
    assert.throws(() => new SchemaValidator({ type: 'string', format: 'email' }).errors('x'), /keyword "format" is not supported/);
    const schema = JSON.parse(readFileSync(CAPTURE_SCHEMA_PATH, 'utf8')) as { $defs: Record<string, unknown> };
    // Validating something against every definition walks every keyword in it.
    for (const name of Object.keys(schema.$defs)) captureSchema.errors({}, `#/$defs/${name}`);
  });
});
