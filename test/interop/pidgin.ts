/**
 * Drive the real MRIM client pidgin-mra (Debian package `pidgin-mra`, a libpurple
 * plugin speaking MRIM 1.8) headless from tests.
 *
 * Each session is one process of our own small libpurple program
 * (`purple-driver.c`, compiled here with gcc on first use and cached under the OS
 * temp dir) with a fresh temporary libpurple user dir. The driver prints JSON
 * events on stdout and takes commands on stdin. See README.md in this folder.
 *
 *   if (!(await isPidginAvailable())) { t.skip(await pidginUnavailableReason()); return; }
 *   const alice = await startPidgin({ host: '127.0.0.1', port, login: 'alice@mail.ru', password: 'pw' });
 *   try {
 *     await alice.waitFor('signed-on', 5000);
 *     await alice.sendMessage('bob@mail.ru', 'Привет');
 *   } finally {
 *     await alice.close();
 *   }
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DRIVER_SOURCE = join(here, 'purple-driver.c');
const BUILD_TIMEOUT_MS = 120_000;

// ------------------------------------------------------------------ events

export interface PidginBuddy {
  name: string;
  alias: string;
  group: string;
  /** libpurple status id of the prpl: ONLINE, AWAY, UNAVIALABLE (sic), OFFLINE */
  status: string;
}

/** Everything the driver can report. `t` = ms since the driver process started. */
export type PidginEvent =
  | { event: 'ready'; t: number; pid: number; protocol: string; pluginVersion: string | null; libpurple: string; statuses: string[] }
  | { event: 'progress'; t: number; text: string; step: number; steps: number }
  /** libpurple's "signed-on": pidgin-mra raises it as soon as TCP is up, BEFORE HELLO/LOGIN2. Not a login. */
  | { event: 'connected'; t: number }
  | { event: 'hello-ack'; t: number }
  /** the plugin accepted LOGIN_ACK (its "mra_login is OK") — this is the real login success */
  | { event: 'signed-on'; t: number }
  | { event: 'user-info'; t: number }
  /** after the plugin processed CONTACT_LIST2 (all buddies of the account at that moment) */
  | { event: 'contact-list'; t: number; buddies: PidginBuddy[] }
  /** a buddy was added to the local list (from CONTACT_LIST2) */
  | { event: 'buddy'; t: number; name: string; alias: string | null; group: string | null; status: string | null }
  | { event: 'buddy-status'; t: number; name: string; status: string | null }
  /** incoming IM: `text` is plain text (HTML unescaped), `html` what the plugin handed to libpurple */
  | { event: 'im'; t: number; from: string; text: string; html: string; flags: number }
  | { event: 'typing'; t: number; from: string }
  /** the plugin's send_im returned `rc` (> 0: sent) */
  | { event: 'sent'; t: number; to: string; text: string; rc: number }
  | { event: 'connection-error'; t: number; text: string; code: number }
  | { event: 'signed-off'; t: number }
  | { event: 'notify'; t: number; type: string; title: string | null; primary: string | null; secondary: string | null; text?: string | null }
  | { event: 'userinfo'; t: number; who: string; pairs: [string, string][] }
  | { event: 'auth-request'; t: number; from: string; alias: string | null; message: string | null; onList: boolean }
  | { event: 'request'; t: number; kind: string; title: string | null; primary: string | null; secondary: string | null; who: string | null; default: string | null }
  /** the driver refused to resolve a host name (only IP literals and localhost are allowed) */
  | { event: 'dns-blocked'; t: number; host: string; port: number }
  /** an error-level or suspicious debug line of the plugin (parse errors, unknown packets, ...) */
  | { event: 'plugin-warning'; t: number; text: string }
  | { event: 'command-error'; t: number; cmd: string; text: string }
  | { event: 'fatal'; t: number; text: string }
  /** the driver is about to exit normally */
  | { event: 'exit'; t: number }
  /** synthesized here when the process is gone (signal set = it crashed or was killed) */
  | { event: 'process-exit'; t: number; code: number | null; signal: NodeJS.Signals | null }
  /** a stdout line that was not JSON (should not happen) */
  | { event: 'raw'; t: number; line: string };

export type PidginEventName = PidginEvent['event'];
export type PidginEventOf<E extends PidginEventName> = Extract<PidginEvent, { event: E }>;

export interface SocksOptions {
  host: string;
  port: number;
  user?: string;
  pass?: string;
}

export interface PidginOptions {
  /**
   * MRIM server address: an IP literal, "localhost" or a name mapped in `resolve`. Any
   * host other than exactly "mrim.mail.ru" is connected to directly. With "mrim.mail.ru"
   * the plugin first does an HTTP GET http://mrim.mail.ru:<port>/ (its redirector lookup)
   * and connects to the "ip:port" it gets back — map the name in `resolve` to test that.
   */
  host: string;
  port: number;
  /** extra host name -> IP literal mappings for the driver's resolver (all other names fail) */
  resolve?: Record<string, string>;
  /** full e-mail; sent verbatim in LOGIN2 (this build of the plugin does not validate or lower-case it) */
  login: string;
  password: string;
  /** libpurple per-account SOCKS5 proxy */
  socks?: SocksOptions;
  /** copy libpurple/plugin debug output (incl. hex dumps of all traffic) into `stderr` */
  verbose?: boolean;
  /** ms to wait for the driver's "ready" (default 15000) */
  startTimeoutMs?: number;
}

export interface WaitOptions {
  /** only consider events with index >= since in `events` (default 0: past events count too) */
  since?: number;
}

export interface PidginSession {
  readonly pid: number;
  readonly login: string;
  /** all events so far, in order */
  readonly events: readonly PidginEvent[];
  /** tail of the driver's stderr (libpurple debug output with verbose: true) */
  readonly stderr: string;
  /** resolves when the process has exited */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** true once the process died from a signal other than the one close() sent */
  readonly crashed: boolean;
  /** index to pass as `since` to wait only for events that come later */
  mark(): number;
  /**
   * Resolve with the first matching event (already received or future); reject on timeout
   * or when the process exits first. The rejection message lists the events seen.
   */
  waitFor<E extends PidginEventName>(event: E, timeoutMs?: number, opts?: WaitOptions): Promise<PidginEventOf<E>>;
  waitFor(predicate: (e: PidginEvent) => boolean, timeoutMs?: number, opts?: WaitOptions): Promise<PidginEvent>;
  /** send an IM (any Unicode text; the plugin converts it to CP1251); resolves with the "sent" event */
  sendMessage(to: string, text: string, timeoutMs?: number): Promise<PidginEventOf<'sent'>>;
  sendTyping(to: string): void;
  /** libpurple status id: ONLINE, AWAY, UNAVIALABLE (sic) — see the "ready" event */
  setStatus(statusId: string): void;
  authorize(who: string): void;
  deny(who: string): void;
  requestInfo(who: string): void;
  /** disconnect the account (the process stays up); resolves when libpurple reports signed-off */
  logout(timeoutMs?: number): Promise<void>;
  /** logout, end the process (SIGKILL after a grace period) and delete the temp dir; idempotent */
  close(): Promise<void>;
}

// ----------------------------------------------------------- availability

interface Toolchain {
  driver: string;
  pluginDirs: string[];
}

let toolchain: Promise<Toolchain> | undefined;

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}${stderr ? `\n${stderr}` : ''}`));
      else resolve(stdout);
    });
  });
}

async function locatePlugin(): Promise<string[]> {
  const dirs = new Set<string>();
  if (process.env.MRIMTAP_PURPLE_PLUGIN_DIR) dirs.add(process.env.MRIMTAP_PURPLE_PLUGIN_DIR);
  // Debian's pidgin-mra installs into /usr/lib/purple-2, which is NOT libpurple's default
  // plugin dir (/usr/lib/<triplet>/purple-2): the driver adds it as a search path.
  dirs.add('/usr/lib/purple-2');
  try {
    dirs.add((await run('pkg-config', ['--variable=plugindir', 'purple'])).trim());
  } catch {
    /* reported by the caller */
  }
  const found = [...dirs].filter((d) => d && existsSync(join(d, 'libmra.so')));
  if (found.length === 0) {
    throw new Error('libmra.so not found (apt-get install pidgin-mra; or set MRIMTAP_PURPLE_PLUGIN_DIR)');
  }
  return found;
}

async function buildDriver(): Promise<string> {
  let flags: string;
  try {
    flags = (await run('pkg-config', ['--cflags', '--libs', 'purple', 'glib-2.0'])).trim();
  } catch (e) {
    throw new Error(`pkg-config cannot find purple (apt-get install libpurple-dev pkg-config): ${(e as Error).message}`);
  }
  const source = readFileSync(DRIVER_SOURCE);
  const key = createHash('sha256').update(source).update(flags).digest('hex').slice(0, 16);
  const dir = process.env.MRIMTAP_PURPLE_DRIVER_DIR ?? join(tmpdir(), 'mrimtap-purple-driver');
  const bin = join(dir, `purple-driver-${key}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  // parallel test files may build at the same time: compile to a private name, then rename
  const tmp = `${bin}.${process.pid}.${Date.now()}.tmp`;
  const args = ['-O1', '-Wall', '-o', tmp, DRIVER_SOURCE, ...flags.split(/\s+/).filter(Boolean)];
  try {
    await run(process.env.CC ?? 'gcc', args, BUILD_TIMEOUT_MS);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot compile purple-driver.c: ${(e as Error).message}`);
  }
  renameSync(tmp, bin);
  return bin;
}

function getToolchain(): Promise<Toolchain> {
  toolchain ??= (async () => {
    const pluginDirs = await locatePlugin();
    const driver = await buildDriver();
    return { driver, pluginDirs };
  })();
  return toolchain;
}

/** Why pidgin-mra tests cannot run here, or undefined when they can. */
export async function pidginUnavailableReason(): Promise<string | undefined> {
  try {
    await getToolchain();
    return undefined;
  } catch (e) {
    return `pidgin-mra interop unavailable: ${(e as Error).message}`;
  }
}

/**
 * True when pidgin-mra, libpurple-dev, pkg-config and gcc are present and the driver
 * compiled. With MRIMTAP_REQUIRE_PIDGIN=1 (set it in CI) a missing piece throws instead
 * of returning false, so the interop tests cannot be skipped silently.
 */
export async function isPidginAvailable(): Promise<boolean> {
  const reason = await pidginUnavailableReason();
  if (reason !== undefined && process.env.MRIMTAP_REQUIRE_PIDGIN === '1') throw new Error(reason);
  return reason === undefined;
}

// -------------------------------------------------------------- processes

const live = new Set<{ child: ChildProcessWithoutNullStreams; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
}

function hex(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex');
}

function word(s: string, what: string): string {
  if (!s || /\s/.test(s)) throw new Error(`${what} must be a non-empty string without whitespace: ${JSON.stringify(s)}`);
  return s;
}

/**
 * Start one pidgin-mra account. Resolves once the driver is up (event "ready"); the
 * connection then proceeds on its own: wait for "signed-on" or "connection-error".
 */
export async function startPidgin(opts: PidginOptions): Promise<PidginSession> {
  const { driver, pluginDirs } = await getToolchain();
  installExitHook();

  const dir = mkdtempSync(join(tmpdir(), 'mrimtap-purple-'));
  const args = ['--dir', dir, '--login', opts.login, '--password', opts.password, '--host', opts.host, '--port', String(opts.port)];
  for (const d of pluginDirs) args.push('--plugin-dir', d);
  if (opts.socks) {
    args.push('--socks-host', opts.socks.host, '--socks-port', String(opts.socks.port));
    if (opts.socks.user !== undefined) args.push('--socks-user', opts.socks.user);
    if (opts.socks.pass !== undefined) args.push('--socks-pass', opts.socks.pass);
  }
  for (const [name, ip] of Object.entries(opts.resolve ?? {})) args.push('--resolve', `${name}=${ip}`);
  if (opts.verbose) args.push('--verbose');
  args.push('--cleanup');

  const child = spawn(driver, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  const entry = { child, dir };
  live.add(entry);
  const started = Date.now();

  const events: PidginEvent[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let killedByUs = false;
  let crashed = false;
  let gone = false;

  const push = (e: PidginEvent): void => {
    events.push(e);
    for (const w of [...waiters]) w();
  };

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    try {
      push(JSON.parse(line) as PidginEvent);
    } catch {
      push({ event: 'raw', t: Date.now() - started, line });
    }
  });
  child.stdin.on('error', () => {
    /* EPIPE after the driver died: reported through process-exit */
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    let stdoutClosed = false;
    let result: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const finish = (): void => {
      if (!stdoutClosed || !result) return;
      gone = true;
      live.delete(entry);
      rmSync(dir, { recursive: true, force: true });
      crashed = result.signal !== null && !killedByUs;
      push({ event: 'process-exit', t: Date.now() - started, code: result.code, signal: result.signal });
      resolve(result);
    };
    rl.on('close', () => {
      stdoutClosed = true;
      finish();
    });
    child.on('exit', (code, signal) => {
      result = { code, signal };
      finish();
    });
    child.on('error', (err) => {
      stderr += `\nspawn error: ${err.message}`;
      result = { code: null, signal: null };
      stdoutClosed = true;
      finish();
    });
  });

  const describe = (): string => {
    const lines = events.map((e) => JSON.stringify(e));
    const tail = stderr.split('\n').slice(-30).join('\n');
    return `events of ${opts.login}:\n  ${lines.join('\n  ')}${tail.trim() ? `\nstderr tail:\n${tail}` : ''}`;
  };

  function waitFor(what: string | ((e: PidginEvent) => boolean), timeoutMs = 10_000, wopts: WaitOptions = {}): Promise<PidginEvent> {
    const match = typeof what === 'string' ? (e: PidginEvent) => e.event === what : what;
    const label = typeof what === 'string' ? `event "${what}"` : 'matching event';
    let next = wopts.since ?? 0;
    return new Promise<PidginEvent>((resolve, reject) => {
      const check = (): void => {
        for (; next < events.length; next++) {
          const e = events[next];
          if (match(e)) {
            done();
            resolve(e);
            return;
          }
        }
        if (gone) {
          done();
          reject(new Error(`pidgin driver exited before ${label}; ${describe()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timeout after ${timeoutMs} ms waiting for ${label}; ${describe()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  const send = (line: string): void => {
    if (gone || child.stdin.destroyed) throw new Error(`pidgin driver for ${opts.login} is not running; ${describe()}`);
    child.stdin.write(`${line}\n`);
  };

  let closing: Promise<void> | undefined;

  const session: PidginSession = {
    get pid() {
      return child.pid ?? -1;
    },
    login: opts.login,
    events,
    get stderr() {
      return stderr;
    },
    exited,
    get crashed() {
      return crashed;
    },
    mark: () => events.length,
    waitFor: waitFor as PidginSession['waitFor'],
    async sendMessage(to, text, timeoutMs = 5000) {
      const since = events.length;
      send(`send ${word(to, 'recipient')} ${hex(text)}`);
      const e = await waitFor((ev) => (ev.event === 'sent' && ev.to === to) || ev.event === 'command-error', timeoutMs, { since });
      if (e.event === 'command-error') throw new Error(`send failed: ${e.text}`);
      return e as PidginEventOf<'sent'>;
    },
    sendTyping(to) {
      send(`typing ${word(to, 'recipient')}`);
    },
    setStatus(statusId) {
      send(`status ${word(statusId, 'status id')}`);
    },
    authorize(who) {
      send(`authorize ${word(who, 'user')}`);
    },
    deny(who) {
      send(`deny ${word(who, 'user')}`);
    },
    requestInfo(who) {
      send(`info ${word(who, 'user')}`);
    },
    async logout(timeoutMs = 5000) {
      const since = events.length;
      send('logout');
      await waitFor((e) => e.event === 'signed-off' || e.event === 'process-exit', timeoutMs, { since });
    },
    close() {
      closing ??= (async () => {
        if (!gone) {
          try {
            child.stdin.end('quit\n');
          } catch {
            /* ignore */
          }
          const timer = setTimeout(() => {
            if (!gone) {
              killedByUs = true;
              child.kill('SIGKILL');
            }
          }, 2000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return closing;
    },
  };

  try {
    await waitFor((e) => e.event === 'ready' || e.event === 'fatal', opts.startTimeoutMs ?? 15_000).then((e) => {
      if (e.event === 'fatal') throw new Error(`pidgin driver failed: ${e.text}`);
    });
  } catch (e) {
    await session.close();
    throw e;
  }
  return session;
}
