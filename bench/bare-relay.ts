/**
 * The bench's "bare Node relay": mrimtap's SOCKS5 front with a plain pipe, no tap, no recording; prints
 * its port. With `--record FILE` it is the recording floor: the same pipe, and every chunk's bytes as
 * base64 in a JSON line through mrimtap's capture file writer — the least a self-contained capture
 * costs (no framing, no decoding, no other thread), against which the recording proxy's cost is read.
 */
import net from 'node:net';
import { OwnerOnlyFile } from '../src/capture/file-writer.js';
import { SocksServer, SOCKS_REPLY } from '../src/socks/server.js';

const record = process.argv[2] === '--record' ? new OwnerOnlyFile(process.argv[3]!) : undefined;
process.once('SIGINT', () => {
  record?.close();
  process.exit(0);
});
let connections = 0;

/** Each chunk as it is relayed, as one line. */
function recordChunks(socket: net.Socket, conn: number, dir: 'c2s' | 's2c'): void {
  if (!record) return;
  socket.on('data', (chunk: Buffer) => record.write([`{"conn":${conn},"dir":"${dir}","time":${Date.now()},"raw64":"`, chunk, '"}\n']));
}

const server = new SocksServer({
  onRequest(req, decision) {
    const upstream = net.connect({ host: req.host, port: req.port });
    upstream.once('connect', () => {
      const client = decision.accept();
      const conn = ++connections;
      recordChunks(client, conn, 'c2s');
      recordChunks(upstream, conn, 's2c');
      client.pipe(upstream).on('error', () => client.destroy());
      upstream.pipe(client);
      upstream.on('error', () => client.destroy());
    });
    upstream.once('error', () => decision.deny(SOCKS_REPLY.CONNECTION_REFUSED));
  },
});
const at = await server.listen(0, '127.0.0.1');
process.stdout.write(`${at.port}\n`);
