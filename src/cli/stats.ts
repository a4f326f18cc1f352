/** `mrimtap stats`: summary tables of a capture or pcap — packet types, connections, latencies, unanswered requests, the unusual. */
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { openCapture } from '../capture/open.js';
import { FILTER_SYNTAX } from '../render/filter.js';
import { StatsCollector } from '../render/stats.js';
import { renderStats } from '../render/stats-tables.js';
import { CliError, captureFailure } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseFilterOption, parseMaxFrameSize } from './options.js';
import { color, writeOut } from './output.js';

interface StatsFlags {
  json?: boolean;
  filter?: string;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('summarise a capture: per packet type, per connection, request→reply latencies, requests without a reply, everything unusual')
    .argument('<capture>', 'a mrimtap capture (.jsonl or .json), or a pcap/pcapng file')
    .option('--json', 'print the summary as one JSON object')
    .option('--filter <expr>', `count only some events: ${FILTER_SYNTAX}`)
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (input: string, flags: StatsFlags) => {
      const filter = parseFilterOption(flags.filter);
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(input);
      const stats = new StatsCollector();
      try {
        const capture = await openCapture(input, { maxFrameSize });
        for await (const entry of capture.entries) {
          if (entry.kind === 'problem') stats.problem(entry.message);
          else if (!filter || filter(entry.event)) stats.add(entry.event);
        }
        const result = stats.result();
        await writeOut(flags.json ? JSON.stringify(result, null, 2) : `${color.dim(capture.description)}\n${renderStats(result, { color })}`);
      } catch (e) {
        throw e instanceof CaptureFileError ? new CliError(e.message) : captureFailure(e, input);
      }
    });
}
