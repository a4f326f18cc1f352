/**
 * A small JSON Schema validator for the keywords captures/capture.schema.json uses, and the check that
 * a capture file on disk (either shape) satisfies that schema. A keyword it does not know is an error,
 * never skipped, so the schema cannot lean on something that is not checked.
 */
import { readFileSync } from 'node:fs';
import { ROOT } from './cli.js';

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const KEYWORDS = new Set(['$ref', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'pattern', 'minimum', 'maximum', 'oneOf', 'anyOf']);

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

export class SchemaValidator {
  constructor(private readonly root: Schema) {}

  /** The errors of `value` against the schema at `pointer` (`#` or `#/$defs/name`); empty when it is valid. */
  errors(value: unknown, pointer = '#'): string[] {
    const out: string[] = [];
    this.check(this.resolve(pointer), value, '$', out);
    return out;
  }

  private resolve(ref: string): Schema {
    if (!ref.startsWith('#')) throw new Error(`only local $refs are supported: ${ref}`);
    let node: unknown = this.root;
    for (const part of ref.slice(1).split('/').filter(Boolean)) node = (node as Schema)[part];
    if (!node || typeof node !== 'object') throw new Error(`$ref ${ref} points nowhere`);
    return node as Schema;
  }

  private check(schema: Schema, v: unknown, at: string, out: string[]): void {
    for (const key of Object.keys(schema)) {
      if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`schema keyword "${key}" is not supported by this validator`);
    }
    if (typeof schema.$ref === 'string') this.check(this.resolve(schema.$ref), v, at, out);
    if (typeof schema.type === 'string') {
      const t = typeOf(v);
      if (!(t === schema.type || (schema.type === 'number' && t === 'integer'))) return void out.push(`${at}: ${t}, not ${schema.type}`);
    }
    if ('const' in schema && v !== schema.const) out.push(`${at}: ${JSON.stringify(v)} is not ${JSON.stringify(schema.const)}`);
    if (Array.isArray(schema.enum) && !schema.enum.includes(v)) out.push(`${at}: ${JSON.stringify(v)} is not one of ${schema.enum.join(', ')}`);
    if (typeof schema.pattern === 'string' && typeof v === 'string' && !new RegExp(schema.pattern, 'u').test(v)) out.push(`${at}: "${v.slice(0, 60)}" does not match ${schema.pattern}`);
    if (typeof schema.minimum === 'number' && typeof v === 'number' && v < schema.minimum) out.push(`${at}: ${v} < ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && typeof v === 'number' && v > schema.maximum) out.push(`${at}: ${v} > ${schema.maximum}`);
    if (v && typeof v === 'object' && !Array.isArray(v)) this.checkObject(schema, v as Record<string, unknown>, at, out);
    if (Array.isArray(v) && schema.items) v.forEach((item, i) => this.check(schema.items as Schema, item, `${at}[${i}]`, out));
    for (const key of ['oneOf', 'anyOf'] as const) {
      const branches = schema[key] as Schema[] | undefined;
      if (!branches) continue;
      const results = branches.map((b) => {
        const errs: string[] = [];
        this.check(b, v, at, errs);
        return errs;
      });
      const passed = results.filter((e) => e.length === 0).length;
      if (key === 'oneOf' ? passed !== 1 : passed === 0) {
        // The branch that came closest explains best what is wrong.
        const closest = results.reduce((a, b) => (b.length < a.length ? b : a));
        out.push(passed > 1 ? `${at}: matches ${passed} branches of oneOf` : `${at}: matches no branch of ${key}; closest: ${closest.join('; ')}`);
      }
    }
  }

  private checkObject(schema: Schema, o: Record<string, unknown>, at: string, out: string[]): void {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required as string[] | undefined) ?? []) if (!(name in o)) out.push(`${at}: missing "${name}"`);
    for (const [k, v] of Object.entries(o)) {
      if (props[k]) this.check(props[k], v, `${at}.${k}`, out);
      else if (schema.additionalProperties === false) out.push(`${at}: unexpected "${k}"`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') this.check(schema.additionalProperties as Schema, v, `${at}.${k}`, out);
    }
  }
}

export const CAPTURE_SCHEMA_PATH = `${ROOT}/captures/capture.schema.json`;
export const captureSchema = new SchemaValidator(JSON.parse(readFileSync(CAPTURE_SCHEMA_PATH, 'utf8')) as Schema);

/**
 * The schema errors of a capture file, either shape: a JSON Lines capture line by line (header first),
 * or a document whole. A torn last line (a recording cut short) is allowed, as the reader allows it.
 */
export function captureFileErrors(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? undefined : text.indexOf('\n'));
  let header: unknown;
  try {
    header = JSON.parse(firstLine);
  } catch {
    return captureSchema.errors(JSON.parse(text)).map((e) => `document ${e}`);
  }
  if (header && typeof header === 'object' && 'events' in header) return captureSchema.errors(header).map((e) => `document ${e}`);
  const lines = text.split('\n');
  const torn = !text.endsWith('\n');
  const errors = captureSchema.errors(header, '#/$defs/header').map((e) => `line 1 ${e}`);
  lines.slice(1).forEach((line, i) => {
    if (line === '' || (torn && i === lines.length - 2)) return;
    errors.push(...captureSchema.errors(JSON.parse(line), '#/$defs/event').map((e) => `line ${i + 2} ${e}`));
  });
  return errors;
}
