/** `mrimtap proxy`: the sniffing SOCKS5 proxy with a live decoded log and optional recording. */
import type { Command } from 'commander';
import { defaultCapturePath } from '../capture/jsonl.js';
import { formatEndpoint, parseEndpoint } from '../net/endpoint.js';
import type { MapRule } from '../proxy/proxy.js';
import type { Sniffer, SnifferOptions } from '../proxy/sniffer.js';
import { FILTER_SYNTAX } from '../render/filter.js';
import { CliError } from './errors.js';
import { collect, parseFilterOption, parsePort, readOptionFile } from './options.js';
import { color } from './output.js';
import { waitForSignal } from './signals.js';
import { printSummary, startLoggedSniffer, type LogFlags } from './sniffing.js';
import { LiveWebView, webViewLine } from './webview.js';

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
  web?: string | boolean;
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
    .option('--web [port]', 'also show the events live in a web page on 127.0.0.1 (default: a free port); its address, with a token, is printed at start')
    .addHelpText('after', '\nPoint the client\'s SOCKS5 proxy setting at the listen address; both the redirector and the session connection are decoded.')
    .action(async (flags: ProxyFlags) => {
      const [options, log] = parseFlags(flags);
      const web = flags.web !== undefined ? new LiveWebView(flags.web, '--web', flags.showSecrets) : undefined;
      const sniffer = await startLoggedSniffer(options, { ...log, onEvent: web?.onEvent });
      const view = await web?.serve(sniffer);
      // Installed before the banner: whoever reads it may signal at once.
      const stop = waitForSignal();
      printBanner(sniffer);
      if (view) process.stderr.write(`  ${webViewLine(view)}\n`);
      await stop.received;
      await sniffer.stop();
      await web?.close();
      printSummary(sniffer);
    });
}

function readPem(path: string | undefined, flag: string): Buffer {
  if (!path) throw new CliError(`--tls-intercept needs ${flag} FILE`);
  return readOptionFile(path);
}

function parseMapRule(text: string): MapRule {
  const [from, to, extra] = text.split('=');
  const a = from !== undefined ? parseEndpoint(from) : undefined;
  const b = to !== undefined ? parseEndpoint(to) : undefined;
  if (!a || !b || extra !== undefined) throw new CliError(`--map takes HOST:PORT=HOST:PORT, not "${text}"`);
  return { from: a, to: b };
}

function parseFlags(flags: ProxyFlags): [Omit<SnifferOptions, 'onEvent' | 'onRecordingFailed'>, LogFlags] {
  let auth: SnifferOptions['auth'];
  if (flags.auth !== undefined) {
    const colon = flags.auth.indexOf(':');
    if (colon < 1 || colon === flags.auth.length - 1) throw new CliError('--auth takes USER:PASSWORD (both non-empty)');
    auth = { user: flags.auth.slice(0, colon), password: flags.auth.slice(colon + 1) };
    if (Buffer.byteLength(auth.user) > 255 || Buffer.byteLength(auth.password) > 255) throw new CliError('--auth: user and password are at most 255 bytes each (RFC 1929)');
  }
  if ((flags.tlsCert || flags.tlsKey) && !flags.tlsIntercept) throw new CliError('--tls-cert and --tls-key go with --tls-intercept');
  const filter = parseFilterOption(flags.filter);
  const sniffer = {
    host: flags.host,
    port: parsePort(flags.port, '--port'),
    auth,
    map: flags.map.map(parseMapRule),
    tlsIntercept: flags.tlsIntercept ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey, '--tls-key') } : undefined,
    record: flags.record === undefined ? undefined : flags.record === true ? defaultCapturePath() : String(flags.record),
    showSecrets: flags.showSecrets,
  };
  return [sniffer, { filter, quiet: flags.quiet, json: flags.json, hex: flags.hex }];
}

function printBanner(s: Sniffer): void {
  const o = s.options;
  const err = (line: string) => process.stderr.write(line + '\n');
  err(`${color.bold('mrimtap proxy')}: SOCKS5 on ${color.bold(formatEndpoint(s.address))} (${o.auth ? `username/password, user ${o.auth.user}` : 'no authentication'})`);
  for (const r of o.map ?? []) err(`  map ${formatEndpoint(r.from)} → ${formatEndpoint(r.to)}`);
  if (o.tlsIntercept) err('  TLS interception on: clients must accept the --tls-cert certificate');
  if (s.capture) err(`  recording to ${s.capture.path}`);
  err(`  set the client's SOCKS5 proxy to ${formatEndpoint(s.address)}; Ctrl-C to stop`);
}
