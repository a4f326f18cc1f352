/**
 * Addons: code that sees every MRIM frame the proxy relays and may change, drop, answer or add frames
 * (mitmproxy's addon scripts, for MRIM). An addon is an object of hooks — from code
 * (`new MrimProxy({ addons })`) or an ES module named by `--script` — and this file holds their types
 * and the loader; intercept.ts runs them on a connection.
 */
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DecodedFrame, FrameOf } from '../protocol/codec.js';
import type { Direction } from '../protocol/fields.js';
import type { PacketFields, PacketName } from '../protocol/packets/index.js';
import type { Endpoint } from '../net/endpoint.js';

/** A frame as a hook gets it: narrowing `type` types `fields` by the packet table. */
export type AddonFrame = { [N in PacketName]: FrameOf<N> }[PacketName] | (DecodedFrame & { type: `UNKNOWN(0x${string})` });

/**
 * What a frame hook returns: nothing or the frame as it came (passed on unchanged), the frame edited
 * (re-encoded: lengths fixed, strings in the session's encodings), or null (dropped).
 */
export type FrameResult = DecodedFrame | null | undefined | void;

export interface InjectOptions {
  /** Header seq (default: one from mrimtap's own range, see the README: the server's replies to it are taken off the client's stream). */
  seq?: number;
}

/** One connection as an addon sees it; each addon has its own, for the whole connection. */
export interface AddonContext {
  readonly conn: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
  /** The account logged in on the connection, once its login packet went by. */
  readonly login: string | undefined;
  /** The protocol minor version the session's layouts follow (the client's), once it has said. */
  readonly minor: number | undefined;
  /** The addon's own per-connection scratch space. */
  readonly state: Record<string, unknown>;
  /**
   * Sends a frame of the table to one side (c2s: to the server, as if the client sent it). Resolves
   * with the reply the other side sends to it (taken off the stream: the side that did not send the
   * request never sees it), or undefined if none came by the close. Never rejects: a bad type or field
   * is a note in the log.
   */
  inject<N extends PacketName>(dir: Direction, type: N, fields?: PacketFields<N>, opts?: InjectOptions): Promise<DecodedFrame | undefined>;
  /** Sends bytes as they are (a malformed frame, to test a peer). */
  inject(dir: Direction, raw: Buffer): Promise<undefined>;
  /** A note in the live log and the capture. */
  note(message: string, level?: 'info' | 'warn'): void;
}

/** What a frame hook gets besides the frame. */
export interface FrameContext extends AddonContext {
  /** Answers the frame to its sender, with its seq (return null too, or the other side answers as well). */
  reply<N extends PacketName>(type: N, fields?: PacketFields<N>): void;
}

export interface Addon {
  /** How the log and the capture name it (a script's file name). */
  name?: string;
  /** The connection is up, before its first frame (frames wait until it returns or resolves). */
  connect?(ctx: AddonContext): void | Promise<void>;
  /** Every frame either side sends, in order; while a returned promise is pending, that direction waits. */
  frame?(frame: AddonFrame, ctx: FrameContext): FrameResult | Promise<FrameResult>;
  /** The connection is closed. */
  close?(ctx: AddonContext): void | Promise<void>;
}

const HOOKS = ['connect', 'frame', 'close'] as const;

/** A `--script` that cannot be used: said at start, before any connection. */
export class AddonLoadError extends Error {}

/**
 * Loads addon scripts: ES modules exporting the hooks by name, or a default export holding them.
 * Throws AddonLoadError for a missing file, a module that does not load, or no (or a non-function) hook.
 */
export async function loadAddons(paths: readonly string[]): Promise<Addon[]> {
  const addons: Addon[] = [];
  for (const path of paths) addons.push(await loadAddon(path));
  return addons;
}

async function loadAddon(path: string): Promise<Addon> {
  const fail = (why: string) => new AddonLoadError(`--script ${path}: ${why}`);
  const file = resolve(path);
  try {
    if (!statSync(file).isFile()) throw fail('not a file');
  } catch (e) {
    if (e instanceof AddonLoadError) throw e;
    throw fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw fail(`does not load: ${(e as Error).message}`);
  }
  const source = module.default && typeof module.default === 'object' ? (module.default as Record<string, unknown>) : module;
  const found = HOOKS.filter((h) => source[h] !== undefined);
  if (!found.length) throw fail(`exports none of the hooks ${HOOKS.join(', ')} (by name, or in its default export)`);
  for (const h of found) if (typeof source[h] !== 'function') throw fail(`its ${h} hook is a ${typeof source[h]}, not a function`);
  const name = typeof source.name === 'string' && source.name ? source.name : basename(file);
  return { name, ...Object.fromEntries(found.map((h) => [h, (source[h] as (...a: unknown[]) => unknown).bind(source)])) };
}
