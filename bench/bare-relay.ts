/** The bench's "bare Node relay": mrimtap's SOCKS5 front with a plain pipe, no tap, no recording; prints its port. */
import net from 'node:net';
import { SocksServer, SOCKS_REPLY } from '../src/socks/server.js';

const server = new SocksServer({
  onRequest(req, decision) {
    const upstream = net.connect({ host: req.host, port: req.port });
    upstream.once('connect', () => {
      const client = decision.accept();
      client.pipe(upstream).on('error', () => client.destroy());
      upstream.pipe(client);
      upstream.on('error', () => client.destroy());
    });
    upstream.once('error', () => decision.deny(SOCKS_REPLY.CONNECTION_REFUSED));
  },
});
const at = await server.listen(0, '127.0.0.1');
process.stdout.write(`${at.port}\n`);
