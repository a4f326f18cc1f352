/**
 * `mrimtap decode`: prints a capture (a proxy recording, or a pcap/pcapng file) or a raw byte stream
 * of one direction as the annotated listing or JSON Lines.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Command } from 'commander';
import { CaptureFileError, type OpenedCapture } from '../capture/format.js';
import { checkDistinctFiles } from '../capture/convert.js';
import { createWriter, openCapture, openCaptureStream } from '../capture/open.js';
import { RawStreamWriter } from '../capture/raw-streams.js';
import { SubsetWriter } from '../capture/subset.js';
import { SessionDecoder, type SessionEvent } from '../protocol/session.js';
import { FILTER_SYNTAX, FilterError, fieldColumns } from '../render/filter.js';
import { TIME_FORMATS, listingClock, type TimeFormat } from '../render/clock.js';
import type { TapEvent } from '../tap/events.js';
import { eventToJson } from '../tap/line.js';
import { formatTapEvent } from '../render/live.js';
import { renderEvent } from '../render/text.js';
import { CliError, fileErrorText } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseFilterOption, parseMaxFrameSize, parseProtoOption } from './options.js';
import { color, writeOut } from './output.js';
import { waitForSignal } from './signals.js';

interface DecodeFlags {
  raw?: string;
  from?: string;
  proto?: string;
  json?: boolean;
  hex?: boolean;
  filter?: string;
  write?: string;
  follow?: boolean;
  count?: string;
  time?: string;
  fields?: string;
  rawOut?: string;
  showSecrets?: boolean;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode a capture (proxy recording, pcap, pcapng) or a raw MRIM byte stream into an annotated listing or JSON Lines')
    .argument('[capture]', 'a capture recorded by `mrimtap proxy --record` (.jsonl), or a .pcap/.pcapng file; - reads one from stdin')
    .option('--raw <file>', 'instead of a capture: a file holding the bytes one side sent, as they crossed the wire')
    .option('--from <side>', 'with --raw: who sent them, client or server')
    .option('--proto <version>', 'with --raw: protocol version to assume until the stream announces one, e.g. 1.8')
    .option('--json', 'print JSON Lines, one object per event')
    .option('--hex', 'add a hexdump of every frame')
    .option('--filter <expr>', `show only some events: ${FILTER_SYNTAX}`)
    .option('-w, --write <file>', 'instead of printing: write the selected events (with --filter) as a mrimtap capture, raw bytes and header kept')
    .option('-f, --follow', 'keep printing what is appended to a recording still being written (like tail -f) until Ctrl-C')
    .option('-c, --count <n>', 'stop after N frames shown (those --filter selects)')
    .option('--time <format>', `how the listing shows times: ${TIME_FORMATS.join(', ')} (seconds since the first event, since the previous one)`)
    .option('--fields <names>', 'print tab-separated columns of these filter fields instead (type,seq,text, like tshark -T fields -e)')
    .option('--raw-out <dir>', 'instead of printing: write each connection\'s bytes per direction to DIR/connN.c2s.bin and .s2c.bin (what --raw reads)')
    .option('--show-secrets', 'show passwords and session keys instead of masking them')
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (capture: string | undefined, flags: DecodeFlags) => {
      if (capture !== undefined && flags.raw !== undefined) throw new CliError('give either a CAPTURE file or --raw FILE, not both');
      if (capture !== undefined && (flags.from !== undefined || flags.proto !== undefined)) {
        // A capture knows both directions and the version of every frame; these would be silently ignored.
        throw new CliError('--from and --proto go with --raw FILE; a capture says who sent each frame and in which version');
      }
      if (flags.write !== undefined && flags.rawOut !== undefined) throw new CliError('give either -w FILE or --raw-out DIR, not both');
      const printing = (['json', 'hex', 'fields', 'time'] as const).filter((k) => flags[k] !== undefined);
      if ((flags.write !== undefined || flags.rawOut !== undefined) && printing.length) {
        throw new CliError(`--${printing[0]} shapes what is printed; -w and --raw-out write files instead of printing`);
      }
      const captureOnly = (['follow', 'count', 'fields', 'time'] as const).filter((k) => flags[k] !== undefined);
      if (flags.raw !== undefined && captureOnly.length) throw new CliError(`--${captureOnly[0]} goes with a CAPTURE, not --raw`);
      if ((flags.write !== undefined || flags.rawOut !== undefined) && capture === undefined && flags.raw !== undefined) throw new CliError('-w and --raw-out take a CAPTURE, not --raw');
      if (flags.write !== undefined && capture === undefined) throw new CliError('-w writes a subset of a CAPTURE: give one (or - for stdin)');
      if (capture !== undefined) return decodeCapture(capture, flags);
      if (flags.raw !== undefined) return decodeRaw(flags.raw, flags);
      throw new CliError('nothing to decode: give a CAPTURE file (.jsonl, .pcap, .pcapng), or --raw FILE --from client|server');
    });
}

const STDIN = '-';

async function decodeCapture(path: string, flags: DecodeFlags): Promise<void> {
  const filter = parseFilterOption(flags.filter);
  const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
  const limit = parseCount(flags.count);
  const name = path === STDIN ? 'stdin' : path;
  if (path !== STDIN) await checkInputFile(path);
  if (flags.follow && path === STDIN) throw new CliError('--follow reads a recording file as it grows; stdin is read to its end anyway');
  const stop = flags.follow ? followUntilSignal() : undefined;
  try {
    if (flags.write !== undefined && path !== STDIN) await checkDistinctFiles(path, flags.write);
    const capture = path === STDIN ? await openCaptureStream(process.stdin, name, { maxFrameSize }) : await openCapture(path, { maxFrameSize, follow: stop?.signal });
    if (flags.follow && capture.format !== 'mrimtap') throw new CliError(`--follow reads a mrimtap recording (.jsonl) as it is written; ${name} is a ${capture.format} capture`);
    const show =
      flags.write !== undefined ? subsetSink(capture, flags.write) : flags.rawOut !== undefined ? await rawStreamsSink(flags.rawOut) : await listingSink(capture, flags);
    let frames = 0;
    try {
      for await (const entry of capture.entries) {
        if (entry.kind === 'problem') {
          process.stderr.write(`mrimtap: ${name}: ${entry.message}\n`);
          continue;
        }
        const selected = !filter || filter(entry.event);
        await show.offer(entry.event, selected);
        // Leaving the loop ends the reading (and a --follow) at once.
        if (selected && entry.event.event.kind === 'frame' && ++frames === limit) break;
      }
    } finally {
      show.end();
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    if (e instanceof CaptureFileError) throw new CliError(e.message);
    // A file system error names its file: the input, or the one -w writes.
    throw new CliError(fileErrorText((e as { path?: string }).path === flags.write ? String(flags.write) : name, e));
  } finally {
    stop?.cancel();
  }
}

/** `--follow` ends at Ctrl-C or SIGTERM: what was read by then is printed, and the exit is clean. */
function followUntilSignal(): { signal: AbortSignal; cancel(): void } {
  const controller = new AbortController();
  const stop = waitForSignal();
  void stop.received.then(() => controller.abort());
  return { signal: controller.signal, cancel: stop.cancel };
}

/** Where the events of a capture go: each with whether the filter selected it. */
interface Sink {
  offer(ev: TapEvent, selected: boolean): void | Promise<void>;
  end(): void;
}

/** `-w`: the selected events into a new capture, the input's header kept; a summary on stderr at the end. */
function subsetSink(capture: OpenedCapture, out: string): Sink {
  const writer = createWriter(out, capture.info);
  const subset = new SubsetWriter(writer);
  let total = 0;
  return {
    offer(ev, selected) {
      total++;
      subset.offer(ev, selected);
    },
    end() {
      writer.close();
      process.stderr.write(`${out}: ${subset.selected} of ${total} events selected, ${writer.events} written with their connections' open and close\n`);
    },
  };
}

/** `--raw-out DIR`: the selected events' bytes, per connection and direction; the files listed on stderr. */
async function rawStreamsSink(dir: string): Promise<Sink> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CliError(fileErrorText(dir, e));
  }
  const streams = new RawStreamWriter(dir);
  return {
    offer: (ev, selected) => (selected ? streams.write(ev) : undefined),
    end() {
      for (const f of streams.close()) {
        const gap = f.missing ? `; ${f.missing} bytes of oversized frames are missing (not in the capture)` : '';
        process.stderr.write(`${f.path}: ${f.bytes} bytes, connection #${f.conn} ${f.dir === 'c2s' ? 'client → server' : 'server → client'}${gap}\n`);
      }
    },
  };
}

/** The listing on stdout: annotated text, JSON Lines, or --fields columns. */
async function listingSink(capture: OpenedCapture, flags: DecodeFlags): Promise<Sink> {
  const clock = listingClock(parseTimeFormat(flags.time));
  if (flags.fields !== undefined) {
    const row = parseFieldsOption(flags.fields, clock, flags.showSecrets);
    return { offer: async (ev, selected) => (selected ? writeOut(row(ev).join('\t')) : undefined), end() {} };
  }
  const fmt = { json: flags.json, hex: flags.hex, showSecrets: flags.showSecrets, color, clock };
  if (!flags.json) await writeOut(color.dim(capture.description));
  return { offer: async (ev, selected) => (selected ? writeOut(formatTapEvent(ev, fmt)) : undefined), end() {} };
}

function parseTimeFormat(text: string | undefined): TimeFormat {
  if (text === undefined) return 'absolute';
  if (!(TIME_FORMATS as readonly string[]).includes(text)) throw new CliError(`--time must be ${TIME_FORMATS.join(', ')}, not "${text}"`);
  return text as TimeFormat;
}

function parseFieldsOption(text: string, clock: (ms: number) => string, showSecrets?: boolean): (ev: TapEvent) => string[] {
  const names = text.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) throw new CliError(`--fields takes names separated by commas (type,seq,text), not "${text}"`);
  try {
    return fieldColumns(names, { clock, showSecrets });
  } catch (e) {
    if (e instanceof FilterError) throw new CliError(`--fields: ${e.message}`);
    throw e;
  }
}

function parseCount(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw new CliError(`-c takes a number of frames (1 or more), not "${text}"`);
  return Number(text);
}

/** One direction's bytes: no connection, no peers (a filter's `conn` is 1). */
async function decodeRaw(path: string, flags: DecodeFlags): Promise<void> {
  const dir = flags.from === 'client' ? 'c2s' : flags.from === 'server' ? 's2c' : undefined;
  if (!dir) throw new CliError(flags.from === undefined ? '--raw needs --from client|server' : `--from must be "client" or "server", not "${flags.from}"`);
  const minor = flags.proto ? parseProtoOption(flags.proto) : undefined;
  const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
  const filter = parseFilterOption(flags.filter);
  await checkInputFile(path);
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
