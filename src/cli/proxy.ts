/** `mrimtap proxy`: the sniffing SOCKS5 proxy with a live decoded log and optional recording. */
import type { Command } from 'commander';
import type { CaptureWriter } from '../capture/format.js';
import { defaultCapturePath } from '../capture/jsonl.js';
import { createWriter } from '../capture/open.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';
import type { TapEvent } from '../tap/events.js';
import { MrimProxy, type MapRule, type ProxyOptions } from '../proxy/proxy.js';
import { FILTER_SYNTAX, type EventFilter } from '../render/filter.js';
import { liveLog } from '../render/live.js';
import { CliError, EXIT, fileErrorReason } from './errors.js';
import { collect, parseFilterOption, parsePort, readOptionFile } from './options.js';
import { color } from './output.js';
import { waitForSignal } from './signals.js';

interface ProxyFlags {
  host: string;
  port: string;
  auth?: string;
  record?: string | boolean;
  hex?: boolean;
  filter?: string;
  quiet?: boolean;
  json?: boolean;
  showSecrets?: boolean;
  map: string[];
  tlsIntercept?: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

export function register(program: Command): void {
  program
    .command('proxy')
    .description('run a SOCKS5 proxy that relays MRIM clients unchanged and decodes every packet live')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '1080')
    .option('--auth <user:password>', 'require SOCKS5 username/password authentication (RFC 1929)')
    .option('--record [file]', 'record the session as a capture (default captures/mrimtap-DATE-TIME.jsonl)')
    .option('--hex', 'add a hexdump of every frame')
    .option('--filter <expr>', `show only some events: ${FILTER_SYNTAX}`)
    .option('--quiet', 'print no events (only the start and the summary)')
    .option('--json', 'print events as JSON Lines, as a capture stores them')
    .option('--show-secrets', 'show passwords and session keys instead of masking them (also in the recording)')
    .option('--map <from=to>', 'send requests for HOST:PORT to another HOST:PORT (repeatable), e.g. mrim.mail.ru:2042=127.0.0.1:2042', collect, [])
    .option('--tls-intercept', 'after an accepted STARTTLS, terminate the client\'s TLS with --tls-cert/--tls-key and keep decoding')
    .option('--tls-cert <file>', 'PEM certificate shown to clients with --tls-intercept')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .addHelpText('after', '\nPoint the client\'s SOCKS5 proxy setting at the listen address; both the redirector and the session connection are decoded.')
    .action(async (flags: ProxyFlags) => {
      const sniffer = await startSniffer(snifferOptions(flags));
      // Installed before the banner: whoever reads it may signal at once.
      const stop = waitForSignal();
      printBanner(sniffer);
      await stop.received;
      await sniffer.stop();
      printSummary(sniffer);
    });
}

export interface SnifferOptions {
  host: string;
  port: number;
  auth?: { user: string; password: string };
  map: MapRule[];
  tlsIntercept?: ProxyOptions['tlsIntercept'];
  /** Capture file to write, if any. */
  record?: string;
  filter?: EventFilter;
  quiet?: boolean;
  json?: boolean;
  hex?: boolean;
  showSecrets?: boolean;
}

export interface Sniffer {
  address: Endpoint;
  options: SnifferOptions;
  capture?: CaptureWriter;
  connections: number;
  stop(): Promise<void>;
}

function readPem(path: string | undefined, flag: string): Buffer {
  if (!path) throw new CliError(`--tls-intercept needs ${flag} FILE`);
  return readOptionFile(path);
}

export function parseMapRule(text: string): MapRule {
  const [from, to, extra] = text.split('=');
  const a = from !== undefined ? parseEndpoint(from) : undefined;
  const b = to !== undefined ? parseEndpoint(to) : undefined;
  if (!a || !b || extra !== undefined) throw new CliError(`--map takes HOST:PORT=HOST:PORT, not "${text}"`);
  return { from: a, to: b };
}

function snifferOptions(flags: ProxyFlags): SnifferOptions {
  let auth: SnifferOptions['auth'];
  if (flags.auth !== undefined) {
    const colon = flags.auth.indexOf(':');
    if (colon < 1 || colon === flags.auth.length - 1) throw new CliError('--auth takes USER:PASSWORD (both non-empty)');
    auth = { user: flags.auth.slice(0, colon), password: flags.auth.slice(colon + 1) };
    if (Buffer.byteLength(auth.user) > 255 || Buffer.byteLength(auth.password) > 255) throw new CliError('--auth: user and password are at most 255 bytes each (RFC 1929)');
  }
  if ((flags.tlsCert || flags.tlsKey) && !flags.tlsIntercept) throw new CliError('--tls-cert and --tls-key go with --tls-intercept');
  const filter = parseFilterOption(flags.filter);
  return {
    host: flags.host,
    port: parsePort(flags.port, '--port'),
    auth,
    map: flags.map.map(parseMapRule),
    tlsIntercept: flags.tlsIntercept ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey, '--tls-key') } : undefined,
    record: flags.record === undefined ? undefined : flags.record === true ? defaultCapturePath() : String(flags.record),
    filter,
    quiet: flags.quiet,
    json: flags.json,
    hex: flags.hex,
    showSecrets: flags.showSecrets,
  };
}

/** Starts the proxy with its live log on stdout and, if asked, a recording. */
export async function startSniffer(opts: SnifferOptions): Promise<Sniffer> {
  let capture: CaptureWriter | undefined;
  const print = opts.quiet
    ? undefined
    : liveLog({ json: opts.json, hex: opts.hex, showSecrets: opts.showSecrets, color, filter: opts.filter, write: (t) => process.stdout.write(t) });
  const seen = new Set<number>();
  const onEvent = (ev: TapEvent) => {
    seen.add(ev.conn);
    if (capture) {
      try {
        capture.write(ev);
      } catch (e) {
        process.stderr.write(`mrimtap: recording to ${capture.path} stopped: ${(e as Error).message}\n`);
        capture = undefined;
      }
    }
    print?.(ev);
  };
  const proxy = new MrimProxy({ host: opts.host, port: opts.port, auth: opts.auth, map: opts.map, tlsIntercept: opts.tlsIntercept, onEvent });
  let address: Endpoint;
  try {
    address = await proxy.listen();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'the port is in use (pick another with --port)' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.message;
    // The code lets a caller that prefers a port (the demo) fall back to another.
    throw Object.assign(new CliError(`cannot listen on ${formatEndpoint({ host: opts.host, port: opts.port })}: ${why}`, EXIT.FAILURE), { code: err.code });
  }
  if (opts.record) {
    try {
      capture = createWriter(opts.record, { listen: formatEndpoint(address) }, { showSecrets: opts.showSecrets });
    } catch (e) {
      await proxy.close();
      throw new CliError(`cannot record to ${opts.record}: ${fileErrorReason(e)}`);
    }
  }
  const sniffer: Sniffer = {
    address,
    options: opts,
    get capture() {
      return capture;
    },
    get connections() {
      return seen.size;
    },
    async stop() {
      await proxy.close();
      capture?.close();
    },
  };
  return sniffer;
}

export function printBanner(s: Sniffer): void {
  const o = s.options;
  const err = (line: string) => process.stderr.write(line + '\n');
  err(`${color.bold('mrimtap proxy')}: SOCKS5 on ${color.bold(formatEndpoint(s.address))} (${o.auth ? `username/password, user ${o.auth.user}` : 'no authentication'})`);
  for (const r of o.map) err(`  map ${formatEndpoint(r.from)} → ${formatEndpoint(r.to)}`);
  if (o.tlsIntercept) err('  TLS interception on: clients must accept the --tls-cert certificate');
  if (s.capture) err(`  recording to ${s.capture.path}`);
  err(`  set the client's SOCKS5 proxy to ${formatEndpoint(s.address)}; Ctrl-C to stop`);
}

export function printSummary(s: Sniffer): void {
  const lines = [`mrimtap proxy: ${s.connections} connection${s.connections === 1 ? '' : 's'}`];
  if (s.capture) lines.push(`  ${s.capture.events} events recorded in ${s.capture.path}`, `  read it again with: npx mrimtap decode ${s.capture.path}`);
  process.stderr.write(lines.join('\n') + '\n');
}
