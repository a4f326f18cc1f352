/** The `mrimtap` command: one file per subcommand, registered here. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { register as registerClient } from './client.js';
import { register as registerConvert } from './convert.js';
import { register as registerDecode } from './decode.js';
import { register as registerDemo } from './demo.js';
import { register as registerDiagram } from './diagram.js';
import { register as registerExport } from './export.js';
import { register as registerImport } from './import.js';
import { register as registerPackets } from './packets.js';
import { register as registerProxy } from './proxy.js';
import { register as registerRedact } from './redact.js';
import { register as registerReplay } from './replay.js';
import { register as registerServer } from './server.js';
import { register as registerWeb } from './web.js';
import { register as registerStats } from './stats.js';
import { CliError, EXIT } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function buildProgram(): Command {
  const program = new Command('mrimtap')
    .description('MRIM (Mail.ru Agent) protocol toolkit: sniffing SOCKS5 proxy, codec, captures, reference client and server')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerDecode(program);
  registerImport(program);
  registerConvert(program);
  registerExport(program);
  registerStats(program);
  registerRedact(program);
  registerClient(program);
  registerPackets(program);
  registerProxy(program);
  registerDemo(program);
  registerServer(program);
  registerWeb(program);
  registerDiagram(program);
  registerReplay(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (e instanceof CliError) {
      // An empty message: the command said everything already and only sets the exit code.
      if (e.message) process.stderr.write(`mrimtap: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`mrimtap: unexpected error: ${(e as Error).stack ?? e}\n`);
    return EXIT.FAILURE;
  }
}

process.exitCode = await main(process.argv);
