/** `mrimtap packets`: the packet table, as the codec knows it. */
import type { Command } from 'commander';
import { protoMinor, parseProto } from '../protocol/header.js';
import { PACKETS, packetByName } from '../protocol/packets.js';
import { describePacket, packetTableMarkdown } from '../render/packets-doc.js';
import { CliError } from './errors.js';
import { writeOut } from './output.js';

export function register(program: Command): void {
  program
    .command('packets')
    .description('list every MRIM packet type, or show the layout of one')
    .argument('[name]', 'packet name, alias or code (e.g. LOGIN2, 0x1038)')
    .option('--proto <version>', 'show the layout as this protocol version sees it', '1.23')
    .option('--markdown', 'print the list as a Markdown table')
    .action(async (name: string | undefined, flags: { proto: string; markdown?: boolean }) => {
      let minor: number;
      try {
        minor = protoMinor(parseProto(flags.proto));
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      if (name) {
        const def = packetByName(name);
        if (!def) throw new CliError(`unknown packet "${name}" (see: mrimtap packets)`);
        await writeOut(describePacket(def, minor));
        return;
      }
      if (flags.markdown) return writeOut(packetTableMarkdown());
      for (const def of PACKETS) await writeOut(describePacket(def, minor) + '\n');
    });
}
