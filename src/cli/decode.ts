/**
 * `mrimtap decode`: prints a capture (a proxy recording, or a pcap/pcapng file) or a raw byte stream
 * of one direction as the annotated listing or JSON Lines.
 */
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { openCapture } from '../capture/open.js';
import { SessionDecoder, type SessionEvent } from '../protocol/session.js';
import { FILTER_SYNTAX } from '../render/filter.js';
import { eventToJson } from '../tap/line.js';
import { formatTapEvent } from '../render/live.js';
import { renderEvent } from '../render/text.js';
import { CliError, fileErrorText } from './errors.js';
import { checkFile, parseFilterOption, parseProtoOption } from './options.js';
import { color, writeOut } from './output.js';

interface DecodeFlags {
  raw?: string;
  from?: string;
  proto?: string;
  json?: boolean;
  hex?: boolean;
  filter?: string;
  showSecrets?: boolean;
  maxFrameSize?: string;
}

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode a capture (proxy recording, pcap, pcapng) or a raw MRIM byte stream into an annotated listing or JSON Lines')
    .argument('[capture]', 'a capture recorded by `mrimtap proxy --record` (.jsonl), or a .pcap/.pcapng file')
    .option('--raw <file>', 'instead of a capture: a file holding the bytes one side sent, as they crossed the wire')
    .option('--from <side>', 'with --raw: who sent them, client or server')
    .option('--proto <version>', 'with --raw: protocol version to assume until the stream announces one, e.g. 1.8')
    .option('--json', 'print JSON Lines, one object per event')
    .option('--hex', 'add a hexdump of every frame')
    .option('--filter <expr>', `show only some events: ${FILTER_SYNTAX}`)
    .option('--show-secrets', 'show passwords and session keys instead of masking them')
    .option('--max-frame-size <bytes>', 'frames announcing a larger payload are reported and skipped', '1048576')
    .action(async (capture: string | undefined, flags: DecodeFlags) => {
      if (capture !== undefined && flags.raw !== undefined) throw new CliError('give either a CAPTURE file or --raw FILE, not both');
      if (capture !== undefined && (flags.from !== undefined || flags.proto !== undefined)) {
        // A capture knows both directions and the version of every frame; these would be silently ignored.
        throw new CliError('--from and --proto go with --raw FILE; a capture says who sent each frame and in which version');
      }
      if (capture !== undefined) return decodeCapture(capture, flags);
      if (flags.raw !== undefined) return decodeRaw(flags.raw, flags);
      throw new CliError('nothing to decode: give a CAPTURE file (.jsonl, .pcap, .pcapng), or --raw FILE --from client|server');
    });
}

function maxFrameSizeOf(flags: DecodeFlags): number {
  const n = Number(flags.maxFrameSize);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--max-frame-size must be a positive whole number`);
  return n;
}

async function decodeCapture(path: string, flags: DecodeFlags): Promise<void> {
  const filter = parseFilterOption(flags.filter);
  const maxFrameSize = maxFrameSizeOf(flags);
  await checkFile(path);
  const fmt = { json: flags.json, hex: flags.hex, showSecrets: flags.showSecrets, color };
  try {
    const capture = await openCapture(path, { maxFrameSize });
    if (!flags.json) await writeOut(color.dim(capture.description));
    for await (const entry of capture.entries) {
      if (entry.kind === 'problem') process.stderr.write(`mrimtap: ${path}: ${entry.message}\n`);
      else if (!filter || filter(entry.event)) await writeOut(formatTapEvent(entry.event, fmt));
    }
  } catch (e) {
    if (e instanceof CaptureFileError) throw new CliError(e.message);
    throw new CliError(fileErrorText(path, e));
  }
}

/** One direction's bytes: no connection, no peers (a filter's `conn` is 1). */
async function decodeRaw(path: string, flags: DecodeFlags): Promise<void> {
  const dir = flags.from === 'client' ? 'c2s' : flags.from === 'server' ? 's2c' : undefined;
  if (!dir) throw new CliError(flags.from === undefined ? '--raw needs --from client|server' : `--from must be "client" or "server", not "${flags.from}"`);
  const minor = flags.proto ? parseProtoOption(flags.proto) : undefined;
  const maxFrameSize = maxFrameSizeOf(flags);
  const filter = parseFilterOption(flags.filter);
  await checkFile(path);
  const session = new SessionDecoder({ minor, maxFrameSize });
  const print = async (events: SessionEvent[]) => {
    for (const ev of events) {
      if (filter && !filter({ conn: 1, client: { host: '', port: 0 }, ...(session.login ? { login: session.login } : {}), event: ev })) continue;
      await writeOut(
        flags.json
          ? JSON.stringify(eventToJson(ev, { showSecrets: flags.showSecrets }))
          : renderEvent(ev, { hex: flags.hex, showSecrets: flags.showSecrets, color }),
      );
    }
  };
  try {
    for await (const chunk of createReadStream(path)) await print(session.push(dir, chunk as Buffer));
  } catch (e) {
    throw new CliError(fileErrorText(path, e));
  }
  await print(session.end(dir));
}
