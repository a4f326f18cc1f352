/** `mrimtap packets`: the packet table, as the codec knows it. */
import type { Command } from 'commander';
import { PACKETS, packetByName } from '../protocol/packets/index.js';
import { describePacket, packetTableMarkdown } from '../render/packets-doc.js';
import { CliError } from './errors.js';
import { parseProtoOption } from './options.js';
import { writeOut } from './output.js';

export function register(program: Command): void {
  program
    .command('packets')
    .description('list every MRIM packet type, or show the layout of one')
    .argument('[name]', 'packet name, alias or code (e.g. LOGIN2, 0x1038)')
    .option('--proto <version>', 'show the layout as this protocol version sees it', '1.23')
    .option('--markdown', 'print the list as a Markdown table')
    .action(async (name: string | undefined, flags: { proto: string; markdown?: boolean }) => {
      const minor = parseProtoOption(flags.proto);
      if (name) {
        if (flags.markdown) throw new CliError('--markdown prints the whole list: give it without a packet name');
        const def = packetByName(name);
        if (!def) throw new CliError(`unknown packet "${name}" (see: mrimtap packets)`);
        await writeOut(describePacket(def, minor));
        return;
      }
      if (flags.markdown) return writeOut(packetTableMarkdown());
      for (const def of PACKETS) await writeOut(describePacket(def, minor) + '\n');
    });
}
