/**
 * `mrimtap web CAPTURE`: a capture (a recording, a pcap or pcapng file) in a local web page —
 * connections, packets with the CLI's filters, decoded fields beside the hexdump, sequence diagrams.
 */
import type { Command } from 'commander';
import { CaptureFileError } from '../capture/format.js';
import { openCapture } from '../capture/open.js';
import { EventStore } from '../web/store.js';
import { CliError, fileErrorText } from './errors.js';
import { MAX_FRAME_SIZE_OPTION, checkInputFile, parseMaxFrameSize } from './options.js';
import { color } from './output.js';
import { waitForSignal } from './signals.js';
import { parseWebPort, serveStore, webViewLine } from './webview.js';

interface WebFlags {
  port: string;
  showSecrets?: boolean;
  maxFrameSize: string;
}

export function register(program: Command): void {
  program
    .command('web')
    .description('browse a capture (proxy recording, pcap, pcapng) in a local web page: connections, filtered packets, decoded fields beside the hexdump, sequence diagrams')
    .argument('<capture>', 'a capture recorded by `mrimtap proxy --record` (.jsonl), or a .pcap/.pcapng file')
    .option('--port <n>', 'port of the page on 127.0.0.1 (default: a free one)', '0')
    .option('--show-secrets', 'show passwords and session keys instead of masking them')
    .option(...MAX_FRAME_SIZE_OPTION)
    .addHelpText('after', '\nThe page\'s address holds a random token, printed at start: requests without it are refused.')
    .action(async (path: string, flags: WebFlags) => {
      const port = parseWebPort(flags.port, '--port');
      const maxFrameSize = parseMaxFrameSize(flags.maxFrameSize);
      await checkInputFile(path);
      let capture;
      try {
        capture = await openCapture(path, { maxFrameSize });
      } catch (e) {
        throw new CliError(e instanceof CaptureFileError ? e.message : fileErrorText(path, e));
      }
      const store = new EventStore({ showSecrets: flags.showSecrets, status: 'loading' });
      const view = await serveStore(store, `${path} — ${capture.description}`, port, '--port');
      const stop = waitForSignal();
      try {
        const out = (line: string) => process.stdout.write(line + '\n');
        out(`${color.bold('mrimtap web')}: ${path} ${color.dim(`(${capture.description})`)}`);
        out(`  ${webViewLine(view, 'open')} in a browser; Ctrl-C to stop`);
        // The page is up while the file is read: it fills as the events come.
        let interrupted = false;
        void stop.received.then(() => (interrupted = true));
        for await (const entry of capture.entries) {
          if (interrupted) return;
          if (entry.kind === 'problem') process.stderr.write(`mrimtap: ${path}: ${entry.message}\n`);
          else store.add(entry.event);
        }
        store.status = 'complete';
        const conns = store.connections().length;
        out(`  ${store.size} events from ${conns} connection${conns === 1 ? '' : 's'} read`);
        await stop.received;
      } catch (e) {
        throw new CliError(fileErrorText(path, e));
      } finally {
        stop.cancel();
        await view.close();
      }
    });
}
