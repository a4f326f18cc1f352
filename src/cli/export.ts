/** `mrimtap export`: a capture as pcapng for Wireshark/tshark, and the generated MRIM dissector for them. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { convertCapture } from '../capture/convert.js';
import { toolVersion } from '../capture/jsonl.js';
import { wiresharkDissector } from '../render/dissector.js';
import { CliError, captureFailure, fileErrorReason } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';

interface ExportFlags {
  pcapng?: string;
  dissector?: string;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('write a capture as pcapng (TCP conversations Wireshark and tshark open), and/or the MRIM dissector for them')
    .argument('[capture]', 'a mrimtap capture (.jsonl or .json), or a pcap/pcapng file')
    .option('--pcapng <file>', 'the pcapng file to write (created readable by its owner only)')
    .option('--dissector <file>', 'also write the Wireshark Lua dissector for MRIM (mrim.lua), generated from the packet table')
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (input: string | undefined, flags: ExportFlags) => {
      if (input === undefined && flags.dissector === undefined) throw new CliError('nothing to export: give a CAPTURE and --pcapng FILE, or --dissector FILE');
      if (input !== undefined && flags.pcapng === undefined) throw new CliError('--pcapng FILE: where to write the capture');
      if (input === undefined && flags.pcapng !== undefined) throw new CliError('--pcapng needs a CAPTURE to export');
      if (flags.dissector !== undefined) {
        try {
          writeFileSync(flags.dissector, wiresharkDissector(toolVersion()));
        } catch (e) {
          throw new CliError(`cannot write ${flags.dissector}: ${fileErrorReason(e)}`);
        }
        process.stderr.write(`${flags.dissector}: MRIM dissector for Wireshark (wireshark -X lua_script:${flags.dissector}, or copy it to ~/.local/lib/wireshark/plugins/)\n`);
      }
      if (input === undefined || flags.pcapng === undefined) return;
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(input);
      try {
        const r = await convertCapture(input, flags.pcapng, {
          format: 'pcapng',
          maxFrameSize,
          onProblem: (message) => process.stderr.write(`mrimtap: ${input}: ${message}\n`),
        });
        process.stderr.write(`${flags.pcapng}: ${r.connections} TCP connections, ${r.frames} MRIM frames, from ${r.description}\n`);
      } catch (e) {
        throw e instanceof CaptureFileError ? new CliError(e.message) : captureFailure(e, input);
      }
    });
}
