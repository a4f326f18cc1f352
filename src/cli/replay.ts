/**
 * `mrimtap replay CAPTURE`: plays a capture's client side against a live server and reports, step by
 * step, where the server now answers differently (`--server`/`--redirector`); or plays its server side
 * to whatever client connects and reports where that client differs from the recorded one
 * (`--as-server`). Exit code 0 when every step matched, 1 when something differed, 2 on an error.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { MrimClientError } from '../client/errors.js';
import { parseSocksUrl } from '../client/transport.js';
import { CaptureFileError } from '../capture/format.js';
import { openCapture } from '../capture/open.js';
import { formatEndpoint, parseEndpoint, type Endpoint } from '../net/endpoint.js';
import { isWildcard } from '../net/local.js';
import { MrimProxy } from '../proxy/proxy.js';
import { formatClock, renderTapEventLine } from '../render/text.js';
import { replayAgainstServer } from '../replay/client-runner.js';
import { Comparer, IgnoreError, parseIgnore } from '../replay/compare.js';
import { buildRecording, CaptureSelectionError, describeSession, selectSessions, type RecordedConnection, type Recording } from '../replay/recording.js';
import { buildReport, exitCodeOf, renderReport, type ReplayReport, type SessionReport, type Timing } from '../replay/report.js';
import { isRedactedLogin, type Credentials } from '../replay/rewrite.js';
import { ReplayServer } from '../replay/server-runner.js';
import type { TapEvent } from '../tap/events.js';
import { CliError, EXIT, fileErrorText } from './errors.js';
import { SCRIPT_OPTION, checkInputFile, collect, loadScripts, parsePort, readOptionFile } from './options.js';
import { color, writeOut } from './output.js';
import { waitForSignal } from './signals.js';

interface ReplayFlags {
  server?: string;
  redirector?: string;
  socks?: string;
  conn: string[];
  login?: string;
  password?: string;
  timing: string;
  timeout: string;
  ignore: string[];
  json?: boolean;
  report?: string;
  all?: boolean;
  asServer?: boolean;
  host?: string;
  port?: string;
  redirectorPort?: string;
  tlsCert?: string;
  tlsKey?: string;
  once?: boolean;
  script: string[];
}

const TIMINGS: readonly Timing[] = ['step', 'original', 'asap'];
const CLIENT_ONLY = ['server', 'redirector', 'socks', 'login', 'password'] as const;
const SERVER_ONLY = ['host', 'port', 'redirectorPort', 'tlsCert', 'tlsKey', 'once', 'script'] as const;
const optionName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function register(program: Command): void {
  program
    .command('replay')
    .description('replay a capture: its client side against a live server (--server), or its server side to a live client (--as-server), with a diff report')
    .argument('<capture>', 'a capture: a recording of `mrimtap proxy --record` or `mrimtap demo` (.jsonl), or a .pcap/.pcapng file')
    .option('--server <host:port>', 'the MRIM server to replay against')
    .option('--redirector <host:port>', 'ask this redirector for the server address (sessions that followed a redirect, or all without --server)')
    .option('--socks <url>', 'SOCKS5 proxy for every connection: socks5://[user:pass@]host:port')
    .option('--conn <ids>', 'replay only these recorded connections: 2, 2,4 or 2-4 (repeatable)', collect, [])
    .option('--login <email>', 'log in as this account instead of the recorded one')
    .option('--password <password>', 'with this password instead of the recorded one (or set MRIMTAP_PASSWORD); needed for a redacted capture')
    .option('--timing <mode>', 'step: each frame once what preceded it came back; original: the recorded gaps; asap: no waiting', 'step')
    .option('--timeout <seconds>', 'how long to wait for an expected frame (and for a connection)', '5')
    .option('--ignore <field>', 'a field not to compare, besides the volatile ones: msgId, USER_STATUS.userAgent, contacts.*.status (repeatable)', collect, [])
    .option('--json', 'print the report as JSON instead of tables')
    .option('--report <file>', 'also write the report as JSON to this file')
    .option('--all', 'list every step in the report, not only those that differ')
    .option('--as-server', 'play the recorded server side to whatever client connects')
    .option('--host <addr>', 'with --as-server: address to listen on', '127.0.0.1')
    .option('--port <n>', 'with --as-server: MRIM port (0: any free port)', '2041')
    .option('--redirector-port <n|off>', 'with --as-server: redirector port, or off', '2042')
    .option('--tls-cert <file>', 'with --as-server: PEM certificate, so a recorded STARTTLS is accepted (FAILURE without)')
    .option('--tls-key <file>', 'with --as-server: its PEM key')
    .option('--once', 'with --as-server: stop when the first client session ends')
    .option(SCRIPT_OPTION[0], `with --as-server: ${SCRIPT_OPTION[1]}`, collect, [])
    .action(async (capture: string, flags: ReplayFlags, command: Command) => {
      const given = (key: string) => command.getOptionValueSource(key) === 'cli';
      const code = flags.asServer ? await replayAsServer(capture, flags, given) : await replayAsClient(capture, flags, given);
      if (code !== EXIT.OK) throw new CliError('', code);
    });
}

// ---------------------------------------------------------------------------------------------------
// Options

function endpointOption(text: string | undefined, option: string): Endpoint | undefined {
  if (text === undefined) return undefined;
  const e = parseEndpoint(text);
  if (!e) throw new CliError(`${option} must be HOST:PORT, not "${text}"`);
  return e;
}

function timingOf(flags: ReplayFlags): Timing {
  if (!(TIMINGS as readonly string[]).includes(flags.timing)) throw new CliError(`--timing must be ${TIMINGS.join(', ')}, not "${flags.timing}"`);
  return flags.timing as Timing;
}

function timeoutOf(flags: ReplayFlags): number {
  const s = Number(flags.timeout);
  if (!(s > 0) || !Number.isFinite(s)) throw new CliError(`--timeout must be a positive number of seconds, not "${flags.timeout}"`);
  return Math.round(s * 1000);
}

function comparerOf(flags: ReplayFlags): Comparer {
  try {
    return new Comparer(parseIgnore(flags.ignore));
  } catch (e) {
    if (e instanceof IgnoreError) throw new CliError(e.message);
    throw e;
  }
}

/** `2`, `2,4`, `2-4`, repeatable. */
function connsOf(values: readonly string[]): number[] {
  return values.flatMap((v) =>
    v.split(',').flatMap((part) => {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
      if (!m) throw new CliError(`--conn takes connection numbers (2, 2,4 or 2-4), not "${part}"`);
      const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
      if (to < from) throw new CliError(`--conn: the range ${part} is backwards`);
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    }),
  );
}

/** Options of the other mode, given anyway: a mistake, said at once rather than ignored. */
function refuse(given: (key: string) => boolean, keys: readonly string[], why: string): void {
  const wrong = keys.filter(given);
  if (wrong.length) throw new CliError(`${wrong.map(optionName).join(', ')} ${wrong.length > 1 ? 'go' : 'goes'} ${why}`);
}

// ---------------------------------------------------------------------------------------------------
// The capture

interface Loaded {
  recording: Recording;
  sessions: RecordedConnection[];
  description: string;
  problems: string[];
}

async function load(path: string, conns: number[]): Promise<Loaded> {
  await checkInputFile(path);
  const events: TapEvent[] = [];
  const problems: string[] = [];
  let description: string;
  try {
    const capture = await openCapture(path);
    description = capture.description;
    for await (const entry of capture.entries) {
      if (entry.kind === 'event') events.push(entry.event);
      else problems.push(entry.message);
    }
  } catch (e) {
    if (e instanceof CaptureFileError) throw new CliError(e.message);
    throw new CliError(fileErrorText(path, e));
  }
  for (const p of problems) process.stderr.write(`mrimtap: ${path}: ${p}\n`);
  const recording = buildRecording(events);
  try {
    return { recording, sessions: selectSessions(recording, conns), description, problems };
  } catch (e) {
    if (e instanceof CaptureSelectionError) throw new CliError(`${path}: ${e.message}`);
    throw e;
  }
}

/** Other credentials, for one account at a time; a redacted capture cannot do without a password. */
function credentialsOf(flags: ReplayFlags, sessions: readonly RecordedConnection[]): Credentials | undefined {
  const password = flags.password ?? (process.env.MRIMTAP_PASSWORD || undefined);
  const logins = [...new Set(sessions.flatMap((s) => (s.login ? [s.login] : [])))];
  if ((flags.login !== undefined || password !== undefined) && logins.length > 1) {
    throw new CliError(`the capture logs in as ${logins.join(', ')}: replay one account's connections with --conn to give it other credentials`);
  }
  const redacted = sessions.filter((s) => s.frames.some((f) => f.dir === 'c2s' && isRedactedLogin(f.frame)));
  if (redacted.length && password === undefined) {
    throw new CliError(`the capture's password is redacted (${redacted.map(describeSession).join(', ')}): give --password (or set MRIMTAP_PASSWORD)`);
  }
  if (flags.login === undefined && password === undefined) return undefined;
  return { ...(flags.login !== undefined ? { login: flags.login } : {}), ...(password !== undefined ? { password } : {}) };
}

function skippedNotes(recording: Recording, sessions: readonly RecordedConnection[], redirector: boolean): string[] {
  return recording.connections
    .filter((c) => !sessions.includes(c) && c.redirect && !redirector)
    .map((c) => `#${c.conn} was a redirector lookup: not replayed (give --redirector HOST:PORT to ask one)`);
}

/** A pattern that left out nothing is most likely misspelt. */
const unusedIgnores = (comparer: Comparer) => comparer.unused.map((p) => `--ignore ${p} left out nothing: no compared field matched it`);

function writeReport(report: ReplayReport, path: string): void {
  try {
    // Reports quote message texts: readable by their owner only, like captures.
    writeFileSync(path, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  } catch (e) {
    throw new CliError(`cannot write the report to ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Against a live server

/** Steps done on stderr, rewritten in place, while stderr is a terminal. */
function progressLine(): { update(done: number, total: number): void; clear(): void } {
  if (!process.stderr.isTTY) return { update: () => undefined, clear: () => undefined };
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      shown = true;
      process.stderr.write(`\r${color.dim(`replaying: step ${done} of ${total}`)}\x1b[K`);
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

async function replayAsClient(path: string, flags: ReplayFlags, given: (key: string) => boolean): Promise<number> {
  refuse(given, SERVER_ONLY, 'with --as-server');
  const server = endpointOption(flags.server, '--server');
  const redirector = endpointOption(flags.redirector, '--redirector');
  if (!server && !redirector) throw new CliError('give --server HOST:PORT (or --redirector HOST:PORT) to replay against, or --as-server to play the recorded server');
  let socks;
  try {
    socks = flags.socks !== undefined ? parseSocksUrl(flags.socks) : undefined;
  } catch (e) {
    if (e instanceof MrimClientError) throw new CliError(e.message);
    throw e;
  }
  const timing = timingOf(flags);
  const timeoutMs = timeoutOf(flags);
  const comparer = comparerOf(flags);
  const { recording, sessions, description } = await load(path, connsOf(flags.conn));
  const credentials = credentialsOf(flags, sessions);
  const target = [server && formatEndpoint(server), redirector && `redirector ${formatEndpoint(redirector)}`].filter(Boolean).join(', ');
  if (!flags.json) {
    await writeOut(color.dim(`${path}: ${description}`));
    await writeOut(`replaying ${sessions.map(describeSession).join(', ')} against ${target} (timing ${timing}, timeout ${timeoutMs / 1000} s)`);
  }
  const progress = progressLine();
  const started = new Date();
  let reports: SessionReport[];
  try {
    reports = await replayAgainstServer(sessions, { server, redirector, socks, timing, timeoutMs, comparer, credentials, onProgress: progress.update });
  } finally {
    progress.clear();
  }
  const report = buildReport({
    capture: path,
    mode: 'client',
    target,
    timing,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    ignored: comparer.ignored,
    sessions: reports,
    notes: [...skippedNotes(recording, sessions, !!redirector), ...unusedIgnores(comparer)],
  });
  if (flags.report) writeReport(report, flags.report);
  await writeOut(flags.json ? JSON.stringify(report, null, 2) : renderReport(report, { color, all: flags.all }));
  return exitCodeOf(report);
}

// ---------------------------------------------------------------------------------------------------
// As the server

async function replayAsServer(path: string, flags: ReplayFlags, given: (key: string) => boolean): Promise<number> {
  refuse(given, CLIENT_ONLY, 'with --server (replaying against a server), not with --as-server');
  const timing = timingOf(flags);
  const timeoutMs = timeoutOf(flags);
  const comparer = comparerOf(flags);
  const port = parsePort(flags.port ?? '2041', '--port');
  const redirectorPort = parsePort(flags.redirectorPort ?? '2042', '--redirector-port', true);
  if (!!flags.tlsCert !== !!flags.tlsKey) throw new CliError('--tls-cert and --tls-key go together');
  const tls = flags.tlsCert && flags.tlsKey ? { cert: readOptionFile(flags.tlsCert), key: readOptionFile(flags.tlsKey) } : undefined;
  const { sessions, description } = await load(path, connsOf(flags.conn));
  const addons = await loadScripts(flags.script);

  const stop = waitForSignal();
  let endOnce: (() => void) | undefined;
  const onceDone = new Promise<void>((resolve) => (endOnce = resolve));
  const log = (line: string) => {
    if (!flags.json) process.stdout.write(line + '\n');
  };
  const started = new Date();
  let server: ReplayServer;
  let front: Endpoint | undefined;
  try {
    server = new ReplayServer(sessions, {
      host: flags.host,
      // With addons the replaying server is behind them: on a free port, the redirector answering theirs.
      port: addons ? 0 : port,
      redirectorPort,
      ...(addons ? { advertisedPort: () => front?.port ?? 0 } : {}),
      timing,
      timeoutMs,
      comparer,
      tls,
      onEvent: (e) => log(`${color.dim(formatClock(Date.now()))} ${e.conn !== undefined ? `#${e.conn} ` : ''}${e.level === 'warn' ? color.yellow(e.text) : e.text}`),
      onSession: (r) => {
        const single = buildReport({ capture: path, mode: 'server', timing, startedAt: started.toISOString(), durationMs: Date.now() - started.getTime(), ignored: comparer.ignored, sessions: [r], notes: [] });
        if (flags.json) process.stdout.write(JSON.stringify({ event: 'session', ...r }) + '\n');
        else log(renderReport(single, { color, all: flags.all }));
        if (flags.once) endOnce?.();
      },
    });
  } catch (e) {
    stop.cancel();
    throw new CliError(`unusable TLS certificate or key: ${(e as Error).message}`);
  }
  let address;
  let forwarder: MrimProxy | undefined;
  try {
    address = await server.listen();
    if (addons) {
      const upstream = { host: isWildcard(address.host) ? (address.host.includes(':') ? '::1' : '127.0.0.1') : address.host, port: address.port };
      // A reverse listener in front of the replaying server: the frames between it and the client pass the hooks.
      forwarder = new MrimProxy({ host: address.host, socks: false, reverse: [{ listen: { port }, upstream, redirector: false }], addons, onEvent: (ev) => logAddonEvent(ev, log) });
      await forwarder.listen();
      front = forwarder.reverseListeners[0].address;
      address = { ...address, port: front.port };
    }
  } catch (e) {
    stop.cancel();
    await server.close();
    throw new CliError((e as Error).message);
  }
  const mrim = formatEndpoint({ host: address.host, port: address.port });
  if (flags.json) {
    process.stdout.write(JSON.stringify({ event: 'listening', capture: path, host: address.host, port: address.port, redirectorPort: address.redirectorPort ?? null, sessions: sessions.map(describeSession) }) + '\n');
  } else {
    log(`${color.bold('mrimtap replay --as-server')}: the recorded server of ${path}`);
    log(color.dim(`  ${description}`));
    log(`  MRIM server   ${mrim}${addons ? ` (through the addons ${addons.map((a) => a.name).join(', ')})` : ''}`);
    if (address.redirectorPort !== undefined) log(`  redirector    ${formatEndpoint({ host: address.host, port: address.redirectorPort })}  (answers ${mrim})`);
    log(`  sessions      ${sessions.map(describeSession).join(', ')}`);
    log(`Log in as a recorded account (any password); ${flags.once ? 'it stops when that session ends' : `${color.bold('Ctrl-C')} to stop`}.`);
  }
  await Promise.race([stop.received, onceDone]);
  stop.cancel();
  await forwarder?.close();
  const reports = await server.close();
  const report = buildReport({
    capture: path,
    mode: 'server',
    target: mrim,
    timing,
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    ignored: comparer.ignored,
    sessions: reports,
    notes: [...(reports.length ? [] : ['no client logged in']), ...unusedIgnores(comparer)],
  });
  if (flags.report) writeReport(report, flags.report);
  if (flags.json) process.stdout.write(JSON.stringify({ event: 'report', ...report }) + '\n');
  else if (!flags.once) log(renderReport(report, { color, steps: false }));
  return exitCodeOf(report);
}

/** What the addons did, in the replay's log: their marks and their notes (frames themselves are not listed). */
function logAddonEvent(ev: TapEvent, log: (line: string) => void): void {
  const e = ev.event;
  // Marks, hook notes, and a client the replaying server could not be reached for.
  if (!ev.addon && e.kind !== 'note' && !(e.kind === 'connect' && e.reply !== 0)) return;
  const line = `${color.dim(formatClock(Date.now()))} #${ev.conn} addons: ${renderTapEventLine(ev)}`;
  log(e.kind === 'note' && e.level === 'warn' ? color.yellow(line) : line);
}
