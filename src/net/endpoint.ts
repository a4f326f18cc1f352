/** A TCP address as the toolkit names one everywhere: proxy, capture, client and server. */
export interface Endpoint {
  host: string;
  port: number;
}

/** `host:port`, with brackets around IPv6 addresses. */
export function formatEndpoint(e: Endpoint): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/**
 * Parses `host:port` or `[v6]:port` (port 1–65535, host lower-cased); undefined when it is not one.
 * `anyPort` also takes port 0, which a packet capture may hold though nothing can connect to it.
 */
export function parseEndpoint(text: string, opts: { anyPort?: boolean } = {}): Endpoint | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < (opts.anyPort ? 0 : 1) || port > 65535) return undefined;
  return { host: (m[1] ?? m[2]).toLowerCase(), port };
}
