/** `mrimtap redact`: a copy of a capture to share — secrets (and with --messages message texts) replaced, still a session that decodes and replays. */
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { DEFAULT_SUBSTITUTE, redactCapture } from '../capture/redact.js';
import { CliError, captureFailure, EXIT } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';

interface RedactFlags {
  output: string;
  messages?: boolean;
  substitute: string;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('redact')
    .description('copy a capture with passwords, cookies and session keys (and with --messages message texts) replaced, re-encoded so it still decodes and replays')
    .argument('<capture>', 'a mrimtap capture (.jsonl or .json), or a pcap/pcapng file')
    .requiredOption('-o, --output <capture>', 'the redacted capture to write (.jsonl, created readable by its owner only)')
    .option('--messages', 'also replace message texts, RTF, offline mail, SMS and microblog posts')
    .option('--substitute <text>', 'what passwords and other secrets become (an MD5 password becomes MD5 of it)', DEFAULT_SUBSTITUTE)
    .option(...MAX_FRAME_SIZE_OPTION)
    .action(async (input: string, flags: RedactFlags) => {
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(input);
      let r;
      try {
        r = await redactCapture(input, flags.output, {
          substitute: flags.substitute,
          messages: flags.messages,
          maxFrameSize,
          onProblem: (message) => process.stderr.write(`mrimtap: ${input}: ${message}\n`),
        });
      } catch (e) {
        throw e instanceof CaptureFileError ? new CliError(e.message) : captureFailure(e, input);
      }
      const n = r.replaced;
      const lines = [
        `${flags.output}: ${r.events} events, ${r.frames} frames; replaced ${n.secrets} secret fields${flags.messages ? `, ${n.messages} message fields` : ''}${n.socks ? `, ${n.socks} SOCKS5 passwords` : ''}`,
        ...(n.maskedInPlace ? [`  ${n.maskedInPlace} damaged frames masked in place (they do not re-encode)`] : []),
        ...(n.scrubbed ? [`  ${n.scrubbed} more copies of secrets overwritten (garbage, notes, other fields)`] : []),
        `  replay it against a server that knows the password "${flags.substitute}" (e.g. mrimtap server --user LOGIN:${flags.substitute})`,
        ...r.alsoInKeptValues.map((k) => `  note: ${k}, which is kept`),
      ];
      if (r.leaks.length === 0) {
        lines.push(`  checked: none of the ${r.secrets - r.tooShort} secrets appears in the file as CP1251, UTF-16LE, UTF-8, MD5, hex or base64${r.tooShort ? ` (${r.tooShort} shorter than 4 bytes not searched)` : ''}`);
        process.stderr.write(lines.join('\n') + '\n');
        return;
      }
      lines.push(...r.leaks.map((l) => `  LEAK: ${l.what} is still in the file (${l.form})`));
      process.stderr.write(lines.join('\n') + '\n');
      throw new CliError(`${flags.output} still holds secrets: do not share this file`, EXIT.FAILURE);
    });
}
