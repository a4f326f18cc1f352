/** Option values the subcommands share: how each is parsed, and the one-line error when it is wrong. */
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseProto, protoMajor, protoMinor } from '../protocol/header.js';
import { AddonLoadError, loadAddons, type Addon } from '../proxy/addons.js';
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
  const minor = protoMinor(proto);
  if (protoMajor(proto) !== 1 || minor < 7 || minor > 24) throw new CliError(`--proto: MRIM versions are 1.7–1.24, not "${text}"`);
  return minor;
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

/** `--max-frame-size N`: frames announcing a larger payload are reported and skipped. */
export const MAX_FRAME_SIZE_OPTION = ['--max-frame-size <bytes>', 'frames announcing a larger payload are reported and skipped', '1048576'] as const;

export function parseMaxFrameSize(text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--max-frame-size must be a positive whole number`);
  return n;
}

/** A file to read named on the command line: it must exist and be a file (one line when it is not). */
export async function checkInputFile(path: string): Promise<void> {
  try {
    if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    throw new CliError(fileErrorText(path, e));
  }
}

/** `--script FILE` (repeatable): addon modules whose hooks see every frame. */
export const SCRIPT_OPTION = ['--script <file>', 'load an addon: an ES module whose hooks (connect, frame, close) see every frame and may change, drop, answer or inject frames (repeatable, run in order)'] as const;

/** The `--script` modules, loaded before anything starts: one that cannot be used is a usage error. */
export async function loadScripts(paths: string[]): Promise<Addon[] | undefined> {
  if (!paths.length) return undefined;
  try {
    return await loadAddons(paths);
  } catch (e) {
    if (e instanceof AddonLoadError) throw new CliError(e.message);
    throw e;
  }
}
