/** `mrimtap convert`: a capture from JSON Lines to one JSON document, or back. */
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { convertCapture } from '../capture/convert.js';
import { CliError, captureFailure } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';

/** `--to` names → the format names createWriter knows. */
const SHAPES: Record<string, string> = { jsonl: 'mrimtap', json: 'mrimtap-json' };

interface ConvertFlags {
  to: string;
  output: string;
  showSecrets?: boolean;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('rewrite a capture as one JSON document (header + events array) or as JSON Lines')
    .argument('<capture>', 'a mrimtap capture (.jsonl or .json), or a pcap/pcapng file')
    .requiredOption('--to <shape>', 'json (one document) or jsonl (JSON Lines, the recording format)')
    .requiredOption('-o, --output <file>', 'the file to write (created readable by its owner only)')
    .option('--show-secrets', 'write secret fields as they are instead of masked (raw bytes are kept whole either way)')
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (input: string, flags: ConvertFlags) => {
      const format = SHAPES[flags.to];
      if (!format) throw new CliError(`--to must be json or jsonl, not "${flags.to}"`);
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(input);
      try {
        const r = await convertCapture(input, flags.output, {
          format,
          maxFrameSize,
          showSecrets: flags.showSecrets,
          onProblem: (message) => process.stderr.write(`mrimtap: ${input}: ${message}\n`),
        });
        process.stderr.write(`${flags.output}: ${r.events} events (${r.frames} frames) from ${r.description}${r.problems ? `; ${r.problems} damaged part${r.problems === 1 ? '' : 's'} skipped` : ''}\n`);
      } catch (e) {
        throw e instanceof CaptureFileError ? new CliError(e.message) : captureFailure(e, input);
      }
    });
}
