/** `mrimtap proxy`: the sniffing SOCKS5 proxy (and reverse listeners) with a live decoded log and optional recording. */
import { statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { defaultCapturePath } from '../capture/jsonl.js';
import { parseSize } from '../capture/rotate.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { isLoopback, isWildcard } from '../net/local.js';
import { AllowRuleError, parseAllowRule, type AllowRule } from '../proxy/allow.js';
import type { MapRule } from '../proxy/proxy.js';
import { ReverseRuleError, parseReverseRule, type ReverseRule } from '../proxy/reverse.js';
import type { Sniffer, SnifferOptions } from '../proxy/sniffer.js';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../socks/server.js';
import { FILTER_SYNTAX } from '../render/filter.js';
import { CliError } from './errors.js';
import { SCRIPT_OPTION, collect, loadScripts, parseFilterOption, parsePort, readOptionFile } from './options.js';
import { color } from './output.js';
import { waitForSignal } from './signals.js';
import { printSummary, startLoggedSniffer, type LogFlags } from './sniffing.js';
import { LiveWebView, webViewLine } from './webview.js';

interface ProxyFlags {
  host: string;
  port: string;
  auth?: string;
  authPasswordFile?: string;
  allow: string[];
  allowOpen?: boolean;
  handshakeTimeout: string;
  record?: string | boolean;
  maxSize?: string;
  maxFiles?: string;
  recordFields?: boolean;
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
  reverse: string[];
  reverseRedirector: string[];
  script: string[];
}

export function register(program: Command): void {
  program
    .command('proxy')
    .description('run a SOCKS5 proxy that relays MRIM clients unchanged and decodes every packet live')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '1080')
    .option('--auth <user[:password]>', `require SOCKS5 username/password authentication (RFC 1929); give the password by ${PASSWORD_ENV} or --auth-password-file rather than here, where ps shows it`)
    .option('--auth-password-file <file>', 'read the --auth password from the first line of this file')
    .option('--allow <host:port>', 'connect only to destinations matching one of these patterns (repeatable), e.g. mrim.mail.ru:2041, *.mail.ru:*, 10.0.0.0/8:2041-2042; others get reply 2', collect, [])
    .option('--allow-open', 'allow listening on a non-loopback address without --auth (anyone who reaches it can relay through it)')
    .option('--handshake-timeout <seconds>', 'a client must finish its SOCKS5 handshake (greeting, authentication, request) within this', String(DEFAULT_HANDSHAKE_TIMEOUT_MS / 1000))
    .option('--record [file]', 'record the session as a capture (default captures/mrimtap-DATE-TIME.jsonl)')
    .option('--max-size <size>', 'with --record: start a new file once one holds SIZE (e.g. 100M; K, M, G are powers of 1024)')
    .option('--max-files <n>', 'with --max-size: keep N files at most, deleting the oldest')
    .option('--record-fields', 'with --record: keep each frame\'s decoded fields (frames up to 1 KiB) in its line, for jq; slower (`decode CAPTURE --json` prints them from any capture)')
    .option('--hex', 'add a hexdump of every frame')
    .option('--filter <expr>', `show only some events: ${FILTER_SYNTAX}`)
    .option('--quiet', 'print no events (only the start and the summary)')
    .option('--json', 'print events as JSON Lines, as a capture stores them')
    .option('--show-secrets', 'show passwords and session keys instead of masking them (also in the recording)')
    .option('--map <from=to>', 'send requests for HOST:PORT to another HOST:PORT (repeatable), e.g. mrim.mail.ru:2042=127.0.0.1:2042', collect, [])
    .option('--tls-intercept', 'after an accepted STARTTLS, terminate the client\'s TLS with --tls-cert/--tls-key and keep decoding')
    .option('--tls-cert <file>', 'PEM certificate shown to clients with --tls-intercept')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(...SCRIPT_OPTION, collect, [])
    .option('--web [port]', 'also show the events live in a web page on 127.0.0.1 (default: a free port); its address, with a token, is printed at start')
    .option(
      '--reverse <listen=upstream>',
      'reverse mode (repeatable): a plain TCP listener relaying to a fixed upstream, for clients without a SOCKS setting, e.g. 2041=mrim.example:2041 or 127.0.0.1:2042=10.0.0.5:2042 ' +
        '(LISTEN without a host is on --host); an upstream on port 2042 is a redirector: its answer is rewritten so the client comes back through a listener opened for it. ' +
        'With --reverse only, no SOCKS5 listener runs unless --port is given',
      collect,
      [],
    )
    .option('--reverse-redirector <listen=upstream>', 'like --reverse, for a redirector on another port than 2042 (its answer is rewritten)', collect, [])
    .addHelpText(
      'after',
      "\nPoint the client's SOCKS5 proxy setting at the listen address; both the redirector and the session connection are decoded.\n" +
        'A client without a SOCKS setting: point it at a --reverse listener instead (its server address, e.g. the redirector 127.0.0.1:2042 with --reverse 2042=mrim.example:2042).',
    )
    .action(async (flags: ProxyFlags, command: Command) => {
      const [options, log] = parseFlags(flags, command.getOptionValueSource('port') !== 'default');
      options.addons = await loadScripts(flags.script);
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

/** Where `--auth USER` (without a password) takes the password from. */
const PASSWORD_ENV = 'MRIMTAP_PROXY_PASSWORD';
/** RFC 1929 fields are at most 255 bytes. */
const MAX_CREDENTIAL_BYTES = 255;

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

/** The password file's first line; a warning when others may read the file. */
function readPasswordFile(path: string): string {
  const password = readOptionFile(path).toString('utf8').split(/\r?\n/)[0];
  if (!password) throw new CliError(`--auth-password-file ${path}: the first line is empty`);
  if (statSync(path).mode & 0o077) process.stderr.write(`mrimtap: warning: ${path} can be read by other users (chmod 600 ${path})\n`);
  return password;
}

/** `--auth USER:PASSWORD`, or `--auth USER` with the password from the file or the environment. */
function parseAuth(flags: ProxyFlags): SnifferOptions['auth'] {
  if (flags.auth === undefined) {
    if (flags.authPasswordFile !== undefined) throw new CliError('--auth-password-file goes with --auth USER');
    return undefined;
  }
  const colon = flags.auth.indexOf(':');
  const user = colon === -1 ? flags.auth : flags.auth.slice(0, colon);
  if (!user) throw new CliError('--auth takes USER or USER:PASSWORD (a non-empty user)');
  let password: string | undefined;
  if (colon !== -1) {
    if (flags.authPasswordFile !== undefined) throw new CliError('give the --auth password either after USER: or in --auth-password-file, not both');
    password = flags.auth.slice(colon + 1);
  } else {
    password = flags.authPasswordFile !== undefined ? readPasswordFile(flags.authPasswordFile) : process.env[PASSWORD_ENV];
  }
  if (!password) throw new CliError(`--auth ${user} needs a password: --auth ${user}:PASSWORD, the ${PASSWORD_ENV} environment variable, or --auth-password-file FILE`);
  if (Buffer.byteLength(user) > MAX_CREDENTIAL_BYTES || Buffer.byteLength(password) > MAX_CREDENTIAL_BYTES) {
    throw new CliError(`--auth: user and password are at most ${MAX_CREDENTIAL_BYTES} bytes each (RFC 1929)`);
  }
  return { user, password };
}

function parseAllow(patterns: string[]): AllowRule[] | undefined {
  try {
    return patterns.length ? patterns.map(parseAllowRule) : undefined;
  } catch (e) {
    if (e instanceof AllowRuleError) throw new CliError(e.message);
    throw e;
  }
}

function parseRotation(flags: ProxyFlags): SnifferOptions['rotation'] {
  if (flags.maxSize === undefined) {
    if (flags.maxFiles !== undefined) throw new CliError('--max-files goes with --max-size');
    return undefined;
  }
  if (flags.record === undefined) throw new CliError('--max-size goes with --record');
  const maxBytes = parseSize(flags.maxSize);
  if (maxBytes === undefined) throw new CliError(`--max-size takes a size such as 100M, 1G or 500000, not "${flags.maxSize}"`);
  const maxFiles = flags.maxFiles === undefined ? undefined : Number(flags.maxFiles);
  if (maxFiles !== undefined && (!/^\d+$/.test(flags.maxFiles!) || maxFiles < 1)) throw new CliError(`--max-files takes a whole number ≥ 1, not "${flags.maxFiles}"`);
  return { maxBytes, maxFiles };
}

function parseReverse(flags: ProxyFlags): ReverseRule[] {
  try {
    return [...flags.reverse.map((spec) => parseReverseRule(spec)), ...flags.reverseRedirector.map((spec) => ({ ...parseReverseRule(spec, '--reverse-redirector'), redirector: true }))];
  } catch (e) {
    if (e instanceof ReverseRuleError) throw new CliError(e.message);
    throw e;
  }
}

/** `portGiven`: --port was on the command line, so the SOCKS5 listener runs beside --reverse ones. */
function parseFlags(flags: ProxyFlags, portGiven: boolean): [Omit<SnifferOptions, 'onEvent' | 'onRecordingFailed'>, LogFlags] {
  const auth = parseAuth(flags);
  const reverse = parseReverse(flags);
  const socks = portGiven || !reverse.length;
  if (!socks && auth) throw new CliError('--auth is for the SOCKS5 listener, which does not run with --reverse only (give --port to run it too)');
  // A reverse listener relays to its fixed upstream only: not an open relay.
  if (socks && !auth && !flags.allowOpen && !isLoopback(flags.host)) {
    throw new CliError(
      `refusing to listen on ${flags.host} without --auth: anyone who can reach that address could relay connections anywhere through this proxy. ` +
        `Require a password with --auth USER (the password from ${PASSWORD_ENV} or --auth-password-file), or, on a network you trust, add --allow-open ` +
        '(--allow HOST:PORT limits where the proxy connects)',
    );
  }
  const handshakeSeconds = Number(flags.handshakeTimeout);
  if (!(handshakeSeconds > 0 && handshakeSeconds <= 3600)) throw new CliError(`--handshake-timeout takes seconds, more than 0 and at most 3600, not "${flags.handshakeTimeout}"`);
  if ((flags.tlsCert || flags.tlsKey) && !flags.tlsIntercept) throw new CliError('--tls-cert and --tls-key go with --tls-intercept');
  if (flags.recordFields && flags.record === undefined) throw new CliError('--record-fields goes with --record');
  const filter = parseFilterOption(flags.filter);
  const sniffer = {
    host: flags.host,
    port: parsePort(flags.port, '--port'),
    socks,
    reverse,
    auth,
    allow: parseAllow(flags.allow),
    handshakeTimeoutMs: Math.round(handshakeSeconds * 1000),
    rotation: parseRotation(flags),
    map: flags.map.map(parseMapRule),
    tlsIntercept: flags.tlsIntercept ? { cert: readPem(flags.tlsCert, '--tls-cert'), key: readPem(flags.tlsKey, '--tls-key') } : undefined,
    record: flags.record === undefined ? undefined : flags.record === true ? defaultCapturePath() : String(flags.record),
    showSecrets: flags.showSecrets,
    recordFields: flags.recordFields,
  };
  return [sniffer, { filter, quiet: flags.quiet, json: flags.json, hex: flags.hex }];
}

function printBanner(s: Sniffer): void {
  const o = s.options;
  const err = (line: string) => process.stderr.write(line + '\n');
  if (s.address) {
    err(`${color.bold('mrimtap proxy')}: SOCKS5 on ${color.bold(formatEndpoint(s.address))} (${o.auth ? `username/password, user ${o.auth.user}` : 'no authentication'})`);
    if (!o.auth && !isLoopback(o.host)) err(color.yellow('  ⚠ open: no authentication on a non-loopback address (--allow-open)'));
  } else err(`${color.bold('mrimtap proxy')}: reverse mode (no SOCKS5 listener)`);
  for (const r of s.reverse) {
    const redirector = r.redirector ? ', a redirector: its answer is rewritten to come back here' : '';
    err(`  point your client at ${color.bold(clientAddresses(r.address).join(' or '))} (→ ${formatEndpoint(r.upstream)}${redirector})`);
  }
  if (o.allow) err(`  connects only to ${o.allow.map((r) => r.text).join(', ')}`);
  for (const r of o.map ?? []) err(`  map ${formatEndpoint(r.from)} → ${formatEndpoint(r.to)}`);
  if (o.tlsIntercept) err('  TLS interception on: clients must accept the --tls-cert certificate');
  if (o.addons) err(`  addons: ${o.addons.map((a) => a.name).join(', ')} (frames are framed, and may be changed, on the way)`);
  const rotation = o.rotation?.maxBytes !== undefined ? ` (a new file every ${o.rotation.maxBytes} bytes${o.rotation.maxFiles ? `, the newest ${o.rotation.maxFiles} kept` : ''})` : '';
  if (s.capture) err(`  recording to ${s.capture.path}${rotation}`);
  err(s.address ? `  set the client's SOCKS5 proxy to ${clientAddresses(s.address).join(' or ')}; Ctrl-C to stop` : '  Ctrl-C to stop');
}

/**
 * Where a client can reach the proxy: its address, or for a wildcard bind (0.0.0.0, ::), which is no
 * address to connect to, loopback and this machine's interface addresses.
 */
function clientAddresses(address: Endpoint): string[] {
  if (!isWildcard(address.host)) return [formatEndpoint(address)];
  const v6 = address.host.includes(':');
  const own = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => !a.internal && (v6 || a.family === 'IPv4') && !a.address.startsWith('fe80:'))
    .map((a) => a.address);
  return [v6 ? '::1' : '127.0.0.1', ...own].map((host) => formatEndpoint({ host, port: address.port }));
}
