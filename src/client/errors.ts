/** Typed failures of the MRIM client: every rejection and every `disconnect` carries one of these. */

export type MrimErrorCode =
  /** The server (or redirector) could not be reached: refused, unresolvable host, network down. */
  | 'CONNECT_FAILED'
  /** A TCP connection (or the SOCKS5 handshake) did not complete in time. */
  | 'CONNECT_TIMEOUT'
  /** The SOCKS5 proxy was unreachable, refused our credentials or refused the CONNECT. */
  | 'PROXY_FAILED'
  /** The redirector did not answer with `host:port`. */
  | 'REDIRECT_FAILED'
  /** The TLS handshake after STARTTLS failed (certificate, protocol). */
  | 'TLS_FAILED'
  /** The server did not answer a request in time. */
  | 'TIMEOUT'
  /** LOGIN_REJ: wrong login or password, account blocked… (`reason` holds the server's text). */
  | 'LOGIN_REJECTED'
  /** The server sent LOGOUT (logged in elsewhere, antispam). */
  | 'LOGGED_OUT'
  /** The connection ended while the session was up (or before it was). */
  | 'CONNECTION_CLOSED'
  /** An operation was attempted while no session is up (before `connect()`, after `logout()`). */
  | 'NOT_CONNECTED'
  /** The server answered a request with a failure status (ADD_CONTACT_ACK ≠ SUCCESS …). */
  | 'OPERATION_FAILED'
  /** Bad arguments given to the client (unknown status name, TLS on a profile without STARTTLS …). */
  | 'INVALID_ARGUMENT';

export class MrimClientError extends Error {
  override readonly name = 'MrimClientError';

  constructor(
    readonly code: MrimErrorCode,
    message: string,
    readonly details: {
      /** Server text (LOGIN_REJ reason) or status name (REJECTED_NOUSER, NO_SUCH_USER …). */
      reason?: string;
      /** Numeric status or LOGOUT reason from the packet. */
      status?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message);
  }

  get reason(): string | undefined {
    return this.details.reason;
  }
}

/** A readable sentence for a socket-level error (ECONNREFUSED → "connection refused"). */
export function socketErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'ECONNRESET':
      return 'connection reset by peer';
    case 'EPIPE':
      return 'connection closed by peer';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return e?.message ?? String(err);
  }
}
