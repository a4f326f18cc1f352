/** `mrimtap decode`: decodes a raw byte stream of one direction. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { protoMinor, parseProto } from '../protocol/header.js';
import { SessionDecoder, type SessionEvent } from '../protocol/session.js';
import { eventToJson } from '../render/json.js';
import { renderEvent } from '../render/text.js';
import { CliError, fileErrorText } from './errors.js';
import { color, writeOut } from './output.js';

interface DecodeFlags {
  raw?: string;
  from?: string;
  proto?: string;
  json?: boolean;
  hex?: boolean;
  showSecrets?: boolean;
  maxFrameSize?: string;
}

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode a raw MRIM byte stream of one direction into an annotated listing or JSON Lines')
    .requiredOption('--raw <file>', 'file holding the bytes one side sent, as they crossed the wire')
    .requiredOption('--from <side>', 'who sent them: client or server')
    .option('--proto <version>', 'protocol version to assume until the stream announces one, e.g. 1.8')
    .option('--json', 'print JSON Lines, one object per event')
    .option('--hex', 'add a hexdump of every frame')
    .option('--show-secrets', 'show passwords and session keys instead of masking them')
    .option('--max-frame-size <bytes>', 'frames announcing a larger payload are reported and skipped', '1048576')
    .action(async (flags: DecodeFlags) => decodeRaw(flags));
}

async function decodeRaw(flags: DecodeFlags): Promise<void> {
  const dir = flags.from === 'client' ? 'c2s' : flags.from === 'server' ? 's2c' : undefined;
  if (!dir) throw new CliError(`--from must be "client" or "server", not "${flags.from}"`);
  let minor: number | undefined;
  try {
    minor = flags.proto ? protoMinor(parseProto(flags.proto)) : undefined;
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const maxFrameSize = Number(flags.maxFrameSize);
  if (!Number.isInteger(maxFrameSize) || maxFrameSize <= 0) throw new CliError(`--max-frame-size must be a positive whole number`);
  const path = flags.raw!;
  try {
    if (!(await stat(path)).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    throw new CliError(fileErrorText(path, e));
  }
  const session = new SessionDecoder({ minor, maxFrameSize });
  const print = async (events: SessionEvent[]) => {
    for (const ev of events) {
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
