/** Option values the subcommands share: how each is parsed, and the one-line error when it is wrong. */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseProto, protoMajor, protoMinor } from '../protocol/header.js';
import { FilterError, parseFilter, type EventFilter } from '../render/filter.js';
import { CliError, fileErrorText } from './errors.js';

/** Commander's argument parser for a repeatable option: every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A port number 0–65535 (0: any free port); with `allowOff`, also "off" → false. */
export function parsePort(text: string, option: string): number;
export function parsePort(text: string, option: string, allowOff: true): number | false;
export function parsePort(text: string, option: string, allowOff = false): number | false {
  if (allowOff && text === 'off') return false;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new CliError(`${option} must be a port number 0–65535${allowOff ? ' or "off"' : ''}, not "${text}"`);
  return n;
}

/** `--proto 1.x` → the minor version; MRIM has only major version 1. */
export function parseProtoOption(text: string): number {
  let proto: number;
  try {
    proto = parseProto(text);
  } catch (e) {
    throw new CliError(`--proto: ${(e as Error).message}`);
  }
  if (protoMajor(proto) !== 1) throw new CliError(`--proto: MRIM versions are 1.x (1.7–1.24), not "${text}"`);
  return protoMinor(proto);
}

/** `--filter EXPR`, or undefined without one. */
export function parseFilterOption(expr: string | undefined): EventFilter | undefined {
  try {
    return expr !== undefined ? parseFilter(expr) : undefined;
  } catch (e) {
    if (e instanceof FilterError) throw new CliError(`--filter: ${e.message}`);
    throw e;
  }
}

/** A file named by an option (certificate, key, CA), read whole. */
export function readOptionFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CliError(fileErrorText(path, e));
  }
}

/** A file named on the command line exists and is a file (a CliError saying what is wrong otherwise). */
export async function checkFile(path: string): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    throw new CliError(fileErrorText(path, e));
  }
}
