/**
 * The parts of @mongodb-js/socksv5 (server side) that src/socks/server.ts uses. The package ships no
 * types; this describes its behaviour as of 0.0.11.
 */
declare module '@mongodb-js/socksv5' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer, Socket } from 'node:net';

  /** What the library parsed from a SOCKS5 request. IPv6 addresses come as 8 zero-padded groups. */
  export interface RequestInfo {
    cmd: 'connect' | 'bind' | 'udp';
    srcAddr: string;
    srcPort: number;
    dstAddr: string;
    dstPort: number;
  }

  /**
   * An authentication method: `server` runs the sub-negotiation on the raw stream and calls back
   * `true` to go on; anything else makes the library end the socket.
   */
  export interface AuthHandler {
    METHOD: number;
    server(stream: Socket, done: (result: boolean | Error) => void): void;
  }

  /**
   * `accept(true)` writes a success reply (bound address 0.0.0.0:0), drops the library's own error
   * handler and hands the socket over (resumed on the next tick). `deny()` only writes the two bytes
   * `05 02` and ends the socket.
   */
  export type ConnectionListener = (info: RequestInfo, accept: (intercept: true) => Socket | undefined, deny: () => void) => void;

  export interface Server extends EventEmitter {
    /** The underlying listener; its 'connection' event fires before the library's handshake starts. */
    _srv: NetServer;
    useAuth(auth: AuthHandler): this;
    listen(port: number, host: string, callback?: () => void): this;
    address(): ReturnType<NetServer['address']>;
    close(callback?: (err?: Error) => void): this;
    on(event: 'connection', listener: ConnectionListener): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'listening' | 'close', listener: () => void): this;
  }

  /** CommonJS whose exports are assigned in a loop, so only the default import works from ESM. */
  const socksv5: {
    createServer(options?: { auths?: AuthHandler[] }, listener?: ConnectionListener): Server;
    auth: {
      None(): AuthHandler;
      /** RFC 1929: replies `01 00` when `check` calls back true, `01 01` otherwise (then the library ends the socket). */
      UserPassword(check: (user: string, password: string, done: (ok: boolean) => void) => void): AuthHandler;
    };
  };
  export default socksv5;
}
