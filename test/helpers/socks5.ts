/**
 * A minimal SOCKS5 server for tests (RFC 1928 CONNECT, RFC 1929 username/password), on node:net.
 * It records every CONNECT target, can require credentials and can refuse CONNECTs.
 */
import net from 'node:net';

export interface TestSocksOptions {
  /** Require these credentials (method 0x02); otherwise no authentication (0x00). */
  auth?: { user: string; password: string };
  /** Answer CONNECT with "connection not allowed by ruleset" (0x02) when this returns false. */
  allow?: (host: string, port: number) => boolean;
}

export interface TestSocks {
  port: number;
  url: string;
  /** `host:port` of every CONNECT that was granted, in order. */
  connects: string[];
  close(): Promise<void>;
}

export async function startTestSocks(opts: TestSocksOptions = {}): Promise<TestSocks> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let step: 'greeting' | 'auth' | 'request' | 'relay' = 'greeting';
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (step === 'greeting') {
          if (buf.length < 2 || buf.length < 2 + buf[1]) return;
          const methods = [...buf.subarray(2, 2 + buf[1])];
          buf = buf.subarray(2 + buf[1]);
          const want = opts.auth ? 2 : 0;
          if (!methods.includes(want)) return void client.end(Buffer.from([5, 0xff]));
          client.write(Buffer.from([5, want]));
          step = opts.auth ? 'auth' : 'request';
        } else if (step === 'auth') {
          if (buf.length < 2 || buf.length < 3 + buf[1] || buf.length < 3 + buf[1] + buf[2 + buf[1]]) return;
          const ulen = buf[1];
          const user = buf.subarray(2, 2 + ulen).toString();
          const plen = buf[2 + ulen];
          const password = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
          buf = buf.subarray(3 + ulen + plen);
          const ok = user === opts.auth!.user && password === opts.auth!.password;
          if (!ok) return void client.end(Buffer.from([1, 1]));
          client.write(Buffer.from([1, 0]));
          step = 'request';
        } else if (step === 'request') {
          if (buf.length < 5) return;
          const atyp = buf[3];
          const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + buf[4];
          if (buf.length < 4 + addrLen + 2) return;
          const host =
            atyp === 1
              ? [...buf.subarray(4, 8)].join('.')
              : atyp === 3
                ? buf.subarray(5, 5 + buf[4]).toString()
                : [0, 2, 4, 6, 8, 10, 12, 14].map((i) => buf.readUInt16BE(4 + i).toString(16)).join(':');
          const port = buf.readUInt16BE(4 + addrLen);
          buf = buf.subarray(4 + addrLen + 2);
          const reply = (code: number) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
          if (opts.allow && !opts.allow(host, port)) return void client.end(reply(2));
          step = 'relay';
          client.pause();
          client.removeListener('data', onData);
          const upstream = net.connect({ host, port });
          sockets.add(upstream);
          upstream.on('close', () => sockets.delete(upstream));
          upstream.once('connect', () => {
            connects.push(`${host}:${port}`);
            client.write(reply(0));
            if (buf.length) upstream.write(buf);
            client.pipe(upstream);
            upstream.pipe(client);
            client.resume();
          });
          upstream.once('error', () => {
            if (upstream.connecting) client.end(reply(5));
            else client.destroy();
          });
          client.once('close', () => upstream.destroy());
          upstream.once('close', () => client.destroy());
          return;
        } else {
          return;
        }
      }
    };
    client.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const cred = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@` : '';
  return {
    port,
    url: `socks5://${cred}127.0.0.1:${port}`,
    connects,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
