/** `mrimtap import`: a pcap/pcapng file (tcpdump, Wireshark) as a mrimtap capture that decodes, stats and replays like a recording. */
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { convertCapture } from '../capture/convert.js';
import { CliError, captureFailure } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';

interface ImportFlags {
  output: string;
  showSecrets?: boolean;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('import')
    .description('turn a pcap/pcapng file into a mrimtap capture: every TCP connection reassembled and decoded, connections without MRIM listed')
    .argument('<pcap>', 'a .pcap or .pcapng file')
    .requiredOption('-o, --output <capture>', 'the capture to write (.jsonl, created readable by its owner only)')
    .option('--show-secrets', 'write secret fields as they are instead of masked (raw bytes are kept whole either way)')
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (input: string, flags: ImportFlags) => {
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(input);
      try {
        const r = await convertCapture(input, flags.output, {
          format: 'mrimtap',
          accept: ['pcap', 'pcapng'],
          maxFrameSize,
          showSecrets: flags.showSecrets,
          onProblem: (message) => process.stderr.write(`mrimtap: ${input}: ${message}\n`),
        });
        const lines = [
          `${flags.output}: ${r.events} events, ${r.frames} MRIM frames, from ${r.description}${r.problems ? ` (${r.problems} damaged part${r.problems === 1 ? '' : 's'} skipped)` : ''}`,
          ...r.notMrim.map((c) => `  ${c}: no MRIM, listed but not decoded`),
        ];
        process.stderr.write(lines.join('\n') + '\n');
      } catch (e) {
        throw e instanceof CaptureFileError ? new CliError(e.message) : captureFailure(e, input);
      }
    });
}
