/** `mrimtap server`: runs the reference MRIM server until Ctrl+C / SIGTERM. */
import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_LIMITS, MrimServer, withMutualContacts, type ServerLogEvent, type ServerOptions, type ServerUser } from '../server/index.js';
import { CliError, EXIT } from './errors.js';
import { collect, parsePort, readOptionFile } from './options.js';
import { color, liveOutput, writeOut } from './output.js';
import { waitForSignal } from './signals.js';

interface ServerFlags {
  host: string;
  port: string;
  redirectorPort: string;
  user: string[];
  users?: string;
  tlsCert?: string;
  tlsKey?: string;
  pingPeriod: string;
  maxConnections: string;
  json?: boolean;
}

/** Logins listed in the banner before it says "and N more". */
const BANNER_USERS = 10;

export function register(program: Command): void {
  program
    .command('server')
    .description('run the reference MRIM server (protocol 1.7–1.23) and its redirector')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'MRIM port (0: any free port)', '2041')
    .option('--redirector-port <port>', 'redirector port (0: any free port, "off": no redirector)', '2042')
    .option('--user <login:password>', 'an account; repeat for more (the accounts become contacts of each other)', collect, [])
    .option('--users <file>', 'JSON users file: loaded if it exists, written back on exit')
    .option('--tls-cert <file>', 'PEM certificate: enables STARTTLS (needs --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--ping-period <seconds>', 'ping period announced in HELLO_ACK', '30')
    .option('--max-connections <n>', 'client connections at once; more are refused on arrival', String(DEFAULT_LIMITS.maxConnections))
    .option('--json', 'log JSON Lines, one object per event')
    .action(async (flags: ServerFlags) => runServer(flags));
}

function parseUser(text: string): ServerUser {
  const colon = text.indexOf(':');
  const login = colon === -1 ? '' : text.slice(0, colon).trim();
  const password = colon === -1 ? '' : text.slice(colon + 1);
  if (!/^[^@\s:]+@[^@\s:]+$/.test(login) || !password) {
    throw new CliError(`--user must be LOGIN:PASSWORD with an e-mail login, e.g. alice@mail.ru:secret (got "${text.split(':')[0]}:…")`);
  }
  return { login, password };
}

/** The users file is written (through a temporary file beside it) only on exit: find out now that it cannot be. */
function checkWritableFolder(file: string): void {
  const folder = dirname(resolve(file));
  try {
    accessSync(folder, constants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not writable';
    throw new CliError(`--users ${file}: the folder ${folder} ${why}, so the users could not be saved on exit`);
  }
}

function logLine(e: ServerLogEvent): string {
  const time = color.dim(e.time.slice(11, 23));
  const conn = e.conn !== undefined ? color.cyan(`#${e.conn}`.padEnd(4)) : '    ';
  const who = e.user ?? e.remote;
  const text = e.level === 'warn' ? color.yellow(e.text) : e.text;
  return `${time} ${conn} ${who ? `${color.bold(who)} ` : ''}${e.proto ? color.dim(`v${e.proto} `) : ''}${text}`;
}

async function runServer(flags: ServerFlags): Promise<void> {
  const pingPeriod = Number(flags.pingPeriod);
  if (!/^\d+$/.test(flags.pingPeriod) || pingPeriod < 1 || pingPeriod > 3600) {
    throw new CliError(`--ping-period must be a whole number of seconds 1–3600, not "${flags.pingPeriod}"`);
  }
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new CliError('--tls-cert and --tls-key go together');
  const maxConnections = Number(flags.maxConnections);
  if (!/^\d+$/.test(flags.maxConnections) || maxConnections < 1) throw new CliError(`--max-connections must be a whole number ≥ 1, not "${flags.maxConnections}"`);
  if (flags.users) checkWritableFolder(flags.users);
  const given = flags.user.map(parseUser);
  const mutual = given.length > 1;
  // Bounded, and the server keeps serving when stdout goes away (`| head`).
  const out = liveOutput({ keepsRunning: 'the server goes on serving (Ctrl-C to stop it)', dropNotice: flags.json ? 'stderr' : 'stdout' });
  const opts: ServerOptions = {
    host: flags.host,
    port: parsePort(flags.port, '--port'),
    redirectorPort: parsePort(flags.redirectorPort, '--redirector-port', true),
    users: mutual ? withMutualContacts(given) : given,
    usersFile: flags.users,
    pingPeriod,
    limits: { maxConnections },
    // The banner below says where it listens, in both forms.
    log: (e) => e.event !== 'listening' && out.write((flags.json ? JSON.stringify(e) : logLine(e)) + '\n'),
  };
  if (flags.tlsCert && flags.tlsKey) opts.tls = { cert: readOptionFile(flags.tlsCert), key: readOptionFile(flags.tlsKey) };

  let server: MrimServer;
  try {
    server = new MrimServer(opts);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  let address;
  try {
    address = await server.listen();
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.FAILURE);
  }

  // Installed before the banner: whoever reads the banner may signal at once.
  const stop = waitForSignal();
  const logins = [...server.users.keys()];
  const shown = logins.slice(0, BANNER_USERS).join(', ') + (logins.length > BANNER_USERS ? ` and ${logins.length - BANNER_USERS} more` : '');
  const mrim = `${address.host}:${address.port}`;
  // Behind a wildcard address the redirector names the address each client reached.
  const answered = ['0.0.0.0', '::', ''].includes(address.host) ? `<address the client reached>:${address.port}` : mrim;
  if (flags.json) {
    await writeOut(
      JSON.stringify({
        event: 'banner',
        host: address.host,
        port: address.port,
        redirectorPort: address.redirectorPort ?? null,
        tls: Boolean(opts.tls),
        pingPeriod,
        users: logins,
        usersSource: server.usersSource,
        mutualContacts: server.usersSource === 'demo' || mutual,
        usersFile: flags.users ?? null,
      }),
    );
  } else {
    const usersLine =
      server.usersSource === 'demo'
        ? `demo users (none given), contacts of each other: ${[...server.users.values()].map((u) => `${u.login} / ${u.password}`).join(', ')}`
        : `${shown}${mutual ? ' — from --user, made contacts of each other' : ''}`;
    const lines = [
      color.bold('mrimtap server') + ' — reference MRIM server, protocol 1.7–1.23',
      `  MRIM        ${mrim}`,
      address.redirectorPort !== undefined ? `  redirector  ${address.host}:${address.redirectorPort} (answers "${answered}")` : '  redirector  off',
      `  STARTTLS    ${opts.tls ? `on (${flags.tlsCert})` : 'off: answered with FAILURE (enable with --tls-cert/--tls-key)'}`,
      `  ping        every ${pingPeriod} s; a client silent for ${pingPeriod * 1.5} s is dropped`,
      `  users       ${usersLine}`,
    ];
    if (flags.users) lines.push(`  users file  ${flags.users} (${server.usersSource === 'file' ? 'loaded' : 'new'}; written on exit)`);
    lines.push('Ctrl+C stops the server.');
    await writeOut(lines.join('\n'));
  }

  const signal = await stop.received;
  if (!flags.json) await writeOut(color.dim(`${signal}: stopping`));
  try {
    await server.close();
  } catch (e) {
    throw new CliError(`stopping the server: ${(e as Error).message}`, EXIT.FAILURE);
  }
}
