/** `mrimtap diagram CAPTURE [--conn ID] [-o FILE]`: the sequence diagram of a capture's sessions, as SVG. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { openCapture } from '../capture/open.js';
import { sequenceDiagram, sessionsOf, type DiagramEntry } from '../render/diagram.js';
import { CliError, fileErrorReason, fileErrorText } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';
import { writeOut } from './output.js';

interface DiagramFlags {
  conn?: string;
  output?: string;
  showSecrets?: boolean;
  gap: string;
  maxFrameSize: string;
}

/** `3` or `2,3`: the connections to draw. */
function parseConns(text: string): Set<number> {
  const conns = text.split(',').map((p) => p.trim());
  if (!conns.every((c) => /^\d+$/.test(c))) throw new CliError(`--conn takes a connection number or a list (2,3), not "${text}"`);
  return new Set(conns.map(Number));
}

export function register(program: Command): void {
  program
    .command('diagram')
    .description('draw the sequence diagram of a capture\'s sessions as SVG: client and server lanes, one arrow per packet, reply latencies, idle gaps')
    .argument('<capture>', 'a capture recorded by `mrimtap proxy --record` (.jsonl), or a .pcap/.pcapng file')
    .option('--conn <id>', 'only this connection (or a list: 2,3); default every one, one below the other')
    .option('-o, --output <file>', 'write the SVG here (default: standard output)')
    .option('--gap <seconds>', 'draw a pause longer than this as a break', '1')
    .option('--show-secrets', 'show passwords and session keys in the fields under the arrows')
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (path: string, flags: DiagramFlags) => {
      const wanted = flags.conn !== undefined ? parseConns(flags.conn) : undefined;
      const gap = Number(flags.gap);
      if (!(gap >= 0)) throw new CliError(`--gap takes a number of seconds, not "${flags.gap}"`);
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(path);
      const entries: DiagramEntry[] = [];
      const seen = new Set<number>();
      try {
        const capture = await openCapture(path, { maxFrameSize });
        for await (const entry of capture.entries) {
          if (entry.kind === 'problem') process.stderr.write(`mrimtap: ${path}: ${entry.message}\n`);
          else {
            seen.add(entry.event.conn);
            if (!wanted || wanted.has(entry.event.conn)) entries.push({ event: entry.event });
          }
        }
      } catch (e) {
        throw new CliError(e instanceof CaptureFileError ? e.message : fileErrorText(path, e));
      }
      const absent = [...(wanted ?? [])].filter((c) => !seen.has(c));
      if (absent.length) {
        throw new CliError(`${path} has no connection ${absent.join(', ')} (it has ${[...seen].sort((a, b) => a - b).join(', ') || 'none'})`);
      }
      const sessions = sessionsOf(entries);
      const svg = sequenceDiagram(sessions, { showSecrets: flags.showSecrets, gapMs: gap * 1000 });
      if (flags.output === undefined) return writeOut(svg.trimEnd());
      try {
        writeFileSync(flags.output, svg);
      } catch (e) {
        throw new CliError(`cannot write ${flags.output}: ${fileErrorReason(e)}`);
      }
      process.stderr.write(`mrimtap: ${sessions.length} session diagram${sessions.length === 1 ? '' : 's'} written to ${flags.output}\n`);
    });
}
