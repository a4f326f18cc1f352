/**
 * `mrimtap client`: the reference client on the command line. Scripted (`--send`, `--listen`,
 * `--json`) or interactive (a small REPL when stdin is a terminal; commands read line by line when
 * stdin is a pipe).
 */
import { createInterface, type Interface } from 'node:readline';
import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import { MrimClient } from '../client/client.js';
import { MrimClientError, type MrimErrorCode } from '../client/errors.js';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../client/profiles.js';
import { STATUSES, statusSpec, type StatusName } from '../client/status.js';
import type { AnketaRow, ContactList, ContactStatus, Delivery, MrimClientOptions } from '../client/types.js';
import { renderEvent, formatClock } from '../render/text.js';
import { CliError, EXIT } from './errors.js';
import { collect, readOptionFile } from './options.js';
import { color, writeOut } from './output.js';
import { waitForSignal } from './signals.js';

/** Exit codes of `mrimtap client` (documented in the README). */
const CLIENT_EXIT = {
  ...EXIT,
  CONNECT: 3,
  PROXY: 4,
  LOGIN: 5,
  CONNECTION_LOST: 6,
  NOT_DELIVERED: 7,
  TIMEOUT: 8,
  TLS: 9,
} as const;

const EXIT_BY_CODE: Record<MrimErrorCode, number> = {
  INVALID_ARGUMENT: CLIENT_EXIT.USAGE,
  CONNECT_FAILED: CLIENT_EXIT.CONNECT,
  CONNECT_TIMEOUT: CLIENT_EXIT.CONNECT,
  REDIRECT_FAILED: CLIENT_EXIT.CONNECT,
  PROXY_FAILED: CLIENT_EXIT.PROXY,
  LOGIN_REJECTED: CLIENT_EXIT.LOGIN,
  CONNECTION_CLOSED: CLIENT_EXIT.CONNECTION_LOST,
  LOGGED_OUT: CLIENT_EXIT.CONNECTION_LOST,
  NOT_CONNECTED: CLIENT_EXIT.CONNECTION_LOST,
  OPERATION_FAILED: CLIENT_EXIT.NOT_DELIVERED,
  TIMEOUT: CLIENT_EXIT.TIMEOUT,
  TLS_FAILED: CLIENT_EXIT.TLS,
};

interface ClientFlags {
  server?: string;
  redirector?: string;
  socks?: string;
  login: string;
  password?: string;
  proto: string;
  tls?: boolean;
  tlsCa?: string;
  tlsInsecure?: boolean;
  send: string[];
  status?: string;
  statusTitle?: string;
  statusDesc?: string;
  listen?: string;
  json?: boolean;
  timeout: string;
  trace?: boolean;
}

export function register(program: Command): void {
  program
    .command('client')
    .description('reference MRIM client: chat interactively, or send and listen from scripts')
    .option('--server <host:port>', 'MRIM server to connect to')
    .option('--redirector <host:port>', 'ask this redirector for the server address first')
    .option('--socks <url>', 'SOCKS5 proxy for every connection: socks5://[user:pass@]host:port')
    .requiredOption('--login <email>', 'account, e.g. alice@mail.ru')
    .option('--password <password>', 'password (or set MRIMTAP_PASSWORD)')
    .option('--proto <version>', `protocol profile: ${PROFILE_NAMES.join(', ')}`, '1.21')
    .option('--tls', 'ask for STARTTLS (profile 1.23); continues in clear if the server refuses')
    .option('--tls-ca <file>', 'PEM certificate(s) to trust for TLS')
    .option('--tls-insecure', 'accept any TLS certificate')
    .option('--send <to=text>', 'send a message and wait for its delivery (repeatable)', collect, [])
    .option('--status <name>', `presence: ${Object.keys(STATUSES).join(', ')} or status_N`)
    .option('--status-title <text>', 'x-status title')
    .option('--status-desc <text>', 'x-status description')
    .option('--listen <seconds>', 'print what arrives for this long (0: until interrupted), then log out')
    .option('--json', 'events as JSON Lines')
    .option('--timeout <seconds>', 'connect and response timeout', '15')
    .option('--trace', 'print every frame sent and received on stderr')
    .action(async (flags: ClientFlags) => runClient(flags));
}

function cliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof MrimClientError) {
    const hint =
      err.code !== 'TLS_FAILED'
        ? ''
        : /host name/.test(err.message)
          ? ' (connect by the name the certificate gives, or use --tls-insecure)'
          : /certificate/.test(err.message)
            ? ' (trust it with --tls-ca FILE, or use --tls-insecure)'
            : '';
    return new CliError(err.message + hint, EXIT_BY_CODE[err.code]);
  }
  return new CliError(`unexpected error: ${(err as Error).message ?? err}`, CLIENT_EXIT.FAILURE);
}

function clientOptions(flags: ClientFlags): MrimClientOptions {
  const password = flags.password ?? (process.env.MRIMTAP_PASSWORD || undefined);
  if (password === undefined) throw new CliError('give --password or set MRIMTAP_PASSWORD');
  if (!flags.server && !flags.redirector) throw new CliError('give --server HOST:PORT or --redirector HOST:PORT');
  if (!(PROFILE_NAMES as readonly string[]).includes(flags.proto)) throw new CliError(`--proto must be one of ${PROFILE_NAMES.join(', ')}, not "${flags.proto}"`);
  const timeout = Number(flags.timeout);
  if (!(timeout > 0)) throw new CliError('--timeout must be a positive number of seconds');
  if ((flags.tlsCa || flags.tlsInsecure) && !flags.tls) throw new CliError('--tls-ca and --tls-insecure need --tls');
  let tls: MrimClientOptions['tls'] = flags.tls;
  if (flags.tls && (flags.tlsCa || flags.tlsInsecure)) {
    tls = {};
    if (flags.tlsInsecure) tls.rejectUnauthorized = false;
    if (flags.tlsCa) tls.ca = readOptionFile(flags.tlsCa);
  }
  if (flags.status) statusSpec(flags.status);
  const profile = PROFILES[flags.proto as ProfileName];
  if (!profile.xstatus && (flags.statusTitle || flags.statusDesc)) {
    process.stderr.write(`mrimtap: --status-title/--status-desc ignored: protocol ${profile.name} has no x-status (1.14 and later)\n`);
  }
  return {
    server: flags.server,
    redirector: flags.redirector,
    socks: flags.socks,
    login: flags.login,
    password,
    proto: flags.proto as ProfileName,
    tls,
    status: flags.status as StatusName | undefined,
    statusTitle: flags.statusTitle,
    statusDescription: flags.statusDesc,
    connectTimeoutMs: timeout * 1000,
    responseTimeoutMs: timeout * 1000,
  };
}

function parseSend(spec: string): { to: string; text: string } {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new CliError(`--send must be TO=TEXT, not "${spec}"`);
  return { to: spec.slice(0, eq).trim(), text: spec.slice(eq + 1) };
}

async function runClient(flags: ClientFlags): Promise<void> {
  let options: MrimClientOptions;
  let sends: { to: string; text: string }[];
  let listen: number | undefined;
  try {
    options = clientOptions(flags);
    sends = flags.send.map(parseSend);
    if (flags.listen !== undefined) {
      listen = Number(flags.listen);
      if (!(listen >= 0)) throw new CliError('--listen must be a number of seconds (0: until interrupted)');
    }
  } catch (e) {
    throw cliError(e);
  }
  const scripted = sends.length > 0 || listen !== undefined;
  const out = new Printer(!!flags.json, !scripted, !scripted && process.stdin.isTTY === true);
  let client: MrimClient;
  try {
    client = new MrimClient(options);
  } catch (e) {
    throw cliError(e);
  }
  out.attach(client);
  if (flags.trace) {
    let index = 0;
    client.on('frame', ({ dir, frame, raw }) => {
      process.stderr.write(renderEvent({ kind: 'frame', dir, offset: 0, index: index++, raw, frame, time: Date.now() }, { color: out.c }) + '\n');
    });
  }
  // A session that ends by itself (server closed it, LOGOUT) ends the command with its error.
  const lost = new Promise<never>((_, reject) => {
    client.on('disconnect', (e) => {
      if (e.error && !e.willReconnect) reject(cliError(e.error));
    });
  });
  lost.catch(() => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw cliError(e);
  }
  try {
    if (scripted) await runScript(client, out, sends, listen, lost);
    else await runCommands(client, out, lost);
  } finally {
    await client.logout();
  }
}

async function runScript(client: MrimClient, out: Printer, sends: { to: string; text: string }[], listen: number | undefined, lost: Promise<never>): Promise<void> {
  for (const { to, text } of sends) {
    let delivery: Delivery;
    try {
      delivery = await Promise.race([client.sendMessage(to, text), lost]);
    } catch (e) {
      throw cliError(e);
    }
    await out.delivery(delivery);
    if (!delivery.delivered) throw new CliError(`message to ${to} not delivered: ${delivery.statusName}`, CLIENT_EXIT.NOT_DELIVERED);
  }
  if (listen === undefined) return;
  // `listen` seconds (0: no limit), or until Ctrl-C / SIGTERM.
  const stop = waitForSignal();
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    if (listen > 0) timer = setTimeout(resolve, listen * 1000);
  });
  try {
    await Promise.race([stop.received, elapsed, lost]);
  } finally {
    clearTimeout(timer);
    stop.cancel();
  }
}

// --------------------------------------------------------------------------------------------------
// Interactive / piped commands

const HELP = [
  '/msg EMAIL TEXT      send a message (plain text after /msg or /to goes to the same person)',
  '/to EMAIL            talk to EMAIL: lines without a leading / are sent there',
  '/status NAME [TITLE] online, away, invisible, dnd, chat, mobile, dating, status_N',
  '/add EMAIL [NICK]    add a contact (asks them for authorization)',
  '/auth EMAIL          authorize EMAIL (answer to their request)',
  '/search EMAIL|NICK   look a user up',
  '/contacts            the contact list with presence',
  '/quit                log out',
];

async function runCommands(client: MrimClient, out: Printer, lost: Promise<never>): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: out.interactive ? process.stdout : undefined, terminal: out.interactive });
  out.prompt = rl;
  let peer: string | undefined;
  client.on('message', (m) => {
    if (!m.offline) peer ??= m.from;
  });
  if (out.interactive) {
    rl.setPrompt(out.c.dim('> '));
    await out.line(out.c.dim('type /help for commands'));
    rl.prompt();
  }
  const ended = new Promise<void>((resolve) => {
    rl.on('close', resolve);
    rl.on('SIGINT', () => rl.close());
  });
  let queue = Promise.resolve(false);
  rl.on('line', (line) => {
    // Commands run one after another, in input order, even when a reply takes a while.
    queue = queue.then(async (quit) => {
      if (quit) return true;
      try {
        const result = await Promise.race([command(line.trim()), lost]);
        if (result === 'quit') {
          rl.close();
          return true;
        }
      } catch (e) {
        if (e instanceof CliError && e.exitCode === CLIENT_EXIT.CONNECTION_LOST) throw e;
        await out.error(e instanceof MrimClientError || e instanceof CliError ? e.message : String(e));
      }
      if (out.interactive) rl.prompt();
      return false;
    });
    queue.catch(() => undefined);
  });

  const command = async (line: string): Promise<'quit' | void> => {
    if (!line) return;
    if (!line.startsWith('/')) {
      if (!peer) return out.error('no recipient yet: use /msg EMAIL TEXT or /to EMAIL');
      return out.delivery(await client.sendMessage(peer, line));
    }
    const [name, ...rest] = line.slice(1).split(/\s+/);
    const arg = (i: number) => rest[i];
    const tail = (i: number) => rest.slice(i).join(' ');
    switch (name.toLowerCase()) {
      case 'msg':
        if (!arg(0) || !tail(1)) return out.error('usage: /msg EMAIL TEXT');
        peer = arg(0);
        return out.delivery(await client.sendMessage(arg(0), line.replace(/^\/msg\s+\S+\s/i, '')));
      case 'to':
        if (!arg(0)) return out.error('usage: /to EMAIL');
        peer = arg(0);
        return out.line(out.c.dim(`talking to ${peer}`));
      case 'status':
        if (!arg(0)) return out.error('usage: /status NAME [TITLE]');
        await client.setStatus(arg(0) as StatusName, { title: tail(1) || undefined });
        return out.line(out.c.dim(`status set to ${arg(0)}`));
      case 'add': {
        if (!arg(0)) return out.error('usage: /add EMAIL [NICK]');
        const contact = await client.addContact(arg(0), { nick: tail(1) || undefined });
        return out.line(out.c.dim(`added ${contact.email} (id ${contact.id}); authorization requested`));
      }
      case 'auth':
        if (!arg(0)) return out.error('usage: /auth EMAIL');
        await client.authorize(arg(0));
        return out.line(out.c.dim(`authorized ${arg(0)}`));
      case 'search': {
        if (!arg(0)) return out.error('usage: /search EMAIL|NICK');
        const q = tail(0);
        const result = await client.search(q.includes('@') ? { email: q } : { nickname: q });
        return out.searchResult(result.rows);
      }
      case 'contacts':
        return out.contactList(client.contacts, true);
      case 'help':
        return out.line(HELP.join('\n'));
      case 'quit':
      case 'exit':
        return 'quit';
      default:
        return out.error(`unknown command /${name} (try /help)`);
    }
  };

  try {
    await Promise.race([ended, lost]);
    // Piped input ends before its last commands are answered: let them finish before logging out.
    await Promise.race([queue, lost]);
  } finally {
    rl.close();
  }
}

// --------------------------------------------------------------------------------------------------
// Output

/** Prints client events as readable lines or as JSON Lines, without breaking an open prompt. */
class Printer {
  readonly c: ChalkInstance = color;
  prompt?: Interface;
  /** Lines that come before 'ready' (offline messages arrive with the contact list): printed after "connected". */
  private beforeReady: string[] | undefined = [];

  constructor(
    readonly json: boolean,
    /** Commands are read from stdin. */
    readonly commands: boolean,
    /** …from a terminal, with a prompt. */
    readonly interactive: boolean,
  ) {}

  attach(client: MrimClient): void {
    const c = this.c;
    client.on('ready', async (e) => {
      const held = this.beforeReady ?? [];
      this.beforeReady = undefined;
      await this.emit('ready', e, `${c.green('connected')} to ${e.server.host}:${e.server.port} as ${c.bold(e.login)} (MRIM ${e.proto}${e.tls ? ', TLS' : ''})`);
      if (!this.json) await this.contactList(client.contacts, false);
      for (const text of held) await this.line(text);
    });
    client.on('contactList', (list) => {
      if (this.json) void this.emit('contactList', list, '');
    });
    client.on('message', (m) => {
      const when = m.offline ? `${m.date ?? 'offline'} ` : '';
      const kind = m.kind === 'message' ? '' : c.dim(` [${m.kind}]`);
      void this.emit('message', m, `${c.dim(when || formatClock(Date.now()))} ${c.bold.cyan(m.from)}${kind}${m.offline ? c.dim(' (offline)') : ''}: ${m.text}`);
    });
    client.on('typing', (e) => this.emit('typing', e, c.dim(`${e.from} is typing…`)));
    client.on('contactStatus', (e) => this.emit('contactStatus', { email: e.email, ...e.status }, `${c.cyan(e.email)} is now ${statusText(c, e.status)}`));
    client.on('authRequest', (e) =>
      this.emit('authRequest', e, `${c.yellow(e.from)} asks for authorization${e.text ? `: "${e.text}"` : ''} ${c.dim(`(/auth ${e.from} to grant)`)}`),
    );
    client.on('authGranted', (e) => this.emit('authGranted', e, `${c.green(e.from)} authorized you`));
    client.on('mailbox', (e) => this.emit('mailbox', e, e.unread ? c.dim(`mailbox: ${e.unread} unread`) : ''));
    client.on('newMail', (e) => this.emit('newMail', e, `new mail from ${e.from}: ${e.subject}`));
    client.on('userInfo', (e) => {
      if (this.json) void this.emit('userInfo', e, '');
    });
    client.on('reconnecting', (e) => this.emit('reconnecting', e, c.yellow(`connection lost; reconnecting in ${e.delayMs / 1000} s (attempt ${e.attempt})`)));
    client.on('disconnect', (e) => {
      if (this.json) void this.emit('disconnect', e.error ? { code: e.error.code, message: e.error.message } : {}, '');
    });
  }

  /** One event: a JSON line, or the human text (skipped when empty). */
  async emit(event: string, data: object, text: string): Promise<void> {
    if (this.json) return writeOut(JSON.stringify({ event, time: new Date().toISOString(), ...data }));
    if (text) return this.line(text);
  }

  async line(text: string): Promise<void> {
    if (this.json) return;
    if (this.beforeReady) {
      this.beforeReady.push(text);
      return;
    }
    if (this.prompt && this.interactive) {
      // Print above the prompt and redraw what the user was typing.
      process.stdout.write('\r\x1b[K');
      await writeOut(text);
      this.prompt.prompt(true);
      return;
    }
    await writeOut(text);
  }

  async error(text: string): Promise<void> {
    if (this.json) return writeOut(JSON.stringify({ event: 'error', time: new Date().toISOString(), message: text }));
    return this.line(this.c.red(text));
  }

  async delivery(d: Delivery): Promise<void> {
    const to = d.to.join(', ');
    const text = d.delivered ? this.c.dim(`→ ${to}: delivered`) : this.c.red(`→ ${to}: not delivered (${d.statusName})`);
    return this.emit('delivery', d, text);
  }

  async contactList(list: ContactList, full: boolean): Promise<void> {
    const c = this.c;
    const online = list.contacts.filter((ct) => ct.status.name !== 'offline').length;
    const count = `${list.contacts.length} contact${list.contacts.length === 1 ? '' : 's'}`;
    if (!full) return this.line(c.dim(`${count}, ${online} online${this.commands ? ' (/contacts to list them)' : ''}`));
    if (this.json) return this.emit('contactList', list, '');
    if (list.contacts.length === 0) return this.line(c.dim('no contacts'));
    const lines: string[] = [];
    const groups = new Map(list.groups.map((g) => [g.id, g.name]));
    for (const ct of [...list.contacts].sort((a, b) => a.group - b.group || a.email.localeCompare(b.email))) {
      const group = groups.get(ct.group);
      const nick = ct.nick && ct.nick !== ct.email ? ` (${ct.nick})` : '';
      const auth = ct.authorized ? '' : c.yellow(' [not authorized]');
      lines.push(`  ${statusText(c, ct.status, 10)} ${c.cyan(ct.email)}${nick}${auth}${group ? c.dim(`  — ${group}`) : ''}`);
    }
    return this.line(lines.join('\n'));
  }

  async searchResult(rows: AnketaRow[]): Promise<void> {
    if (this.json) return this.emit('search', { rows }, '');
    if (rows.length === 0) return this.line(this.c.dim('nobody found'));
    const lines = rows.map((r) => {
      const name = [r.firstname, r.lastname].filter(Boolean).join(' ');
      const parts = [r.nickname && `"${r.nickname}"`, name, r.sex, r.birthday, r.location, r.status && statusText(this.c, r.status)].filter(Boolean);
      return `  ${this.c.cyan(r.email ?? '?')} ${parts.join(', ')}`;
    });
    return this.line(lines.join('\n'));
  }
}

/** `away "title"`, coloured by presence; `width` pads the name (before colouring, so columns line up). */
function statusText(c: ChalkInstance, s: ContactStatus, width = 0): string {
  const paint = s.name === 'offline' || s.name === 'unknown' ? c.gray : s.name === 'online' || s.name === 'chat' ? c.green : c.yellow;
  const title = s.title && s.title.toLowerCase() !== s.name ? ` "${s.title}"` : '';
  return paint(s.name) + title + ' '.repeat(Math.max(0, width - s.name.length - title.length));
}
