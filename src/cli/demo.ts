/**
 * `mrimtap demo` (`npm start`): the reference server and the sniffing proxy on local ports, a scripted
 * session of three reference clients through the proxy with its live log and its web view, a capture
 * of it, and then both kept up for a real client until Ctrl-C (or ended with --exit).
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import { defaultCapturePath } from '../capture/jsonl.js';
import { MrimClient } from '../client/index.js';
import { formatEndpoint } from '../net/endpoint.js';
import type { Sniffer, SnifferOptions } from '../proxy/sniffer.js';
import { MrimServer, type ServerAddress } from '../server/index.js';
import { CliError } from './errors.js';
import { SCRIPT_OPTION, collect, loadScripts } from './options.js';
import { color } from './output.js';
import { waitForSignal } from './signals.js';
import { printSummary, startLoggedSniffer, type LogFlags } from './sniffing.js';
import { LiveWebView, webViewLine } from './webview.js';

interface DemoFlags {
  exit?: boolean;
  freePorts?: boolean;
  record?: string;
  recordFields?: boolean;
  hex?: boolean;
  script: string[];
}

const HOST = '127.0.0.1';
/** What real clients are configured with; the proxy maps these names to the local server. */
const MRIM_HOST = 'mrim.mail.ru';
const PREFERRED = { proxy: 1080, server: 2041, redirector: 2042 };
const STEP_TIMEOUT_MS = 10_000;
/** Pause after each step so the log of one step is complete before the next one starts. */
const SETTLE_MS = 150;
/** How long an interactive demo waits for its web view to be opened before it plays the session. */
const WATCH_WAIT_MS = 6000;

const DEMO_ACCOUNTS = [
  { login: 'alice@mail.ru', password: 'alice' },
  { login: 'bob@mail.ru', password: 'bob' },
  { login: 'carol@list.ru', password: 'carol' },
];

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the reference server and the sniffing proxy locally, play a scripted session through them and keep them up for a real client')
    .option('--exit', 'stop after the scripted session instead of staying up until Ctrl-C')
    .option('--free-ports', `use free ports instead of ${PREFERRED.proxy} (proxy) and ${PREFERRED.server}/${PREFERRED.redirector} (server)`)
    .option('--record <file>', 'where to save the capture (default captures/mrimtap-DATE-TIME.jsonl)')
    .option('--record-fields', 'keep each frame\'s decoded fields (frames up to 1 KiB) in its line of the capture, for jq')
    .option('--hex', 'add a hexdump of every frame to the log')
    .option(...SCRIPT_OPTION, collect, [])
    .action(async (flags: DemoFlags) => {
      const ok = await runDemo(flags);
      if (!ok) throw new CliError('the scripted session did not complete (see above)', 1);
    });
}

/**
 * Starts on the usual ports (`start(true)`), or on free ones when a usual one is taken or not allowed;
 * `preferred` is false only after such a fallback. --free-ports goes to free ones straight away.
 */
async function onUsualPorts<T extends object>(freePorts: boolean, start: (usual: boolean) => Promise<T>): Promise<T & { preferred: boolean }> {
  if (freePorts) return { ...(await start(false)), preferred: true };
  try {
    return { ...(await start(true)), preferred: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw e;
    return { ...(await start(false)), preferred: false };
  }
}

function startServer(freePorts: boolean): Promise<{ server: MrimServer; address: ServerAddress; preferred: boolean }> {
  return onUsualPorts(freePorts, async (usual) => {
    // No users given: the server's demo accounts, each with the others as contacts.
    const server = new MrimServer({ host: HOST, port: usual ? PREFERRED.server : 0, redirectorPort: usual ? PREFERRED.redirector : 0 });
    return { server, address: await server.listen() };
  });
}

function startProxy(opts: Omit<SnifferOptions, 'port'>, log: LogFlags, freePorts: boolean): Promise<{ sniffer: Sniffer; preferred: boolean }> {
  const keepsRunning = 'server and proxy go on serving (Ctrl-C to stop them)';
  return onUsualPorts(freePorts, async (usual) => ({ sniffer: await startLoggedSniffer({ ...opts, port: usual ? PREFERRED.proxy : 0 }, log, keepsRunning) }));
}

const narrate = (text: string) => process.stdout.write(`\n${color.bold.magenta('▶')} ${color.bold(text)}\n`);
const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));

/** Resolves with the first event of `name` that satisfies `test`, or fails after a timeout. */
async function next<T>(client: MrimClient, name: string, test: (v: T) => boolean = () => true): Promise<T> {
  const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
  for (;;) {
    const [value] = (await once(client, name, { signal })) as [T];
    if (test(value)) return value;
  }
}

/** The scripted session; every step is narrated before it runs, the proxy's log shows its packets. Stops at the next step once `abort` fires. */
async function script(socks: string, server: ServerAddress, abort: AbortSignal): Promise<void> {
  const say = (text: string) => {
    abort.throwIfAborted();
    narrate(text);
  };
  const redirector = `${MRIM_HOST}:${PREFERRED.redirector}`;
  const [aliceAcc, bobAcc, carolAcc] = DEMO_ACCOUNTS;
  const clients: MrimClient[] = [];
  const client = (opts: ConstructorParameters<typeof MrimClient>[0]) => {
    const c = new MrimClient({ socks, responseTimeoutMs: STEP_TIMEOUT_MS, ...opts });
    clients.push(c);
    return c;
  };
  try {
    say(`alice logs in with protocol 1.8 (LOGIN2, CP1251 text), asking the redirector ${redirector} first`);
    const alice = client({ redirector, ...aliceAcc, proto: '1.8' });
    await alice.connect();
    await settle();

    say(`bob logs in with protocol 1.21 (LOGIN3, UTF-16LE text) straight to the server ${formatEndpoint({ host: HOST, port: server.port })}`);
    const bob = client({ server: { host: HOST, port: server.port }, ...bobAcc, proto: '1.21' });
    const bobOnline = next(alice, 'contactStatus', (s: { email: string }) => s.email === bobAcc.login);
    await bob.connect();
    await bobOnline;
    await settle();

    say('bob goes away with a status title; alice gets USER_STATUS');
    const bobAway = next(alice, 'contactStatus', (s: { email: string; status: { name: string } }) => s.email === bobAcc.login && s.status.name === 'away');
    await bob.setStatus('away', { title: 'Обедаю', description: 'вернусь через час' });
    await bobAway;
    await settle();

    say('alice writes to bob: CP1251 on her 1.8 connection, UTF-16LE on his 1.21 one');
    const toBob = next(bob, 'message');
    await alice.sendMessage(bobAcc.login, 'Привет, Боб! Как дела?');
    await toBob;
    await settle();

    say('bob answers');
    const toAlice = next(alice, 'message');
    await bob.sendMessage(aliceAcc.login, 'Привет, Алиса! Всё хорошо, спасибо.');
    await toAlice;
    await settle();

    say('alice writes to carol, who is offline: the server keeps the message');
    await alice.sendMessage(carolAcc.login, 'Carol, позвони мне, когда будешь онлайн.');
    await settle();

    say('carol logs in with protocol 1.23 (CAPABILITIES, LOGIN3 with an MD5 password) and gets the offline message');
    const carol = client({ server: { host: HOST, port: server.port }, ...carolAcc, proto: '1.23' });
    const offline = next(carol, 'message', (m: { offline: boolean }) => m.offline);
    await carol.connect();
    await offline;
    await settle();

    say('bob searches the white pages for carol');
    await bob.search({ email: carolAcc.login });
    await settle();

    say('everyone logs out');
    for (const c of clients) await c.logout();
    await settle();
  } finally {
    for (const c of clients) if (c.state !== 'closed' && c.state !== 'idle') await c.logout().catch(() => {});
  }
}

// The demo runs its SOCKS5 listener always, so `sniffer.address` is set here.
/** What to try next; `stayingUp`: the demo's server and proxy stay up for it (no --exit). */
function nextSteps(sniffer: Sniffer, server: ServerAddress, stayingUp: boolean): void {
  const proxy = formatEndpoint(sniffer.address!);
  const file = sniffer.capture?.path;
  const commands: Array<[string, string]> = [
    ...(file
      ? ([
          [`npx mrimtap decode ${file}`, 'the session again'],
          [`npx mrimtap decode ${file} --filter 'type=MESSAGE*'`, 'only the messages'],
          [`npx mrimtap decode ${file} --json`, 'as JSON Lines'],
          stayingUp
            ? [`npx mrimtap replay ${file} --server ${HOST}:${server.port}`, 'replay it against this server, with a report of what differs']
            : [`npx mrimtap replay ${file} --server ${HOST}:${PREFERRED.server}`, 'replay it against a server (`npx mrimtap server`), with a report of what differs'],
          [`npx mrimtap replay ${file} --as-server`, `be the recorded server for a real client${stayingUp ? ' (once this demo has stopped, or give --port)' : ''}`],
          [`npx mrimtap web ${file}`, 'in the web view'],
          [`npx mrimtap diagram ${file} --conn 2 -o session.svg`, "alice's session as a sequence diagram"],
        ] as Array<[string, string]>)
      : []),
    ['npx mrimtap proxy --record', 'the proxy alone, in front of any server (once this demo has stopped)'],
  ];
  const width = Math.max(...commands.map(([c]) => c.length));
  const lines = [
    '',
    color.bold('Next:'),
    ...commands.map(([c, what]) => `  ${c.padEnd(width)}  ${color.dim(what)}`),
    '',
    color.bold('Point a real client at it') + ` (accounts ${DEMO_ACCOUNTS.map((a) => `${a.login} / ${a.password}`).join(', ')}):`,
    `  Pidgin (pidgin-mra): a "Mail.Ru Agent" account with server ${HOST} and port ${server.port}, and on its`,
    `    Proxy tab SOCKS 5, host ${sniffer.address!.host}, port ${sniffer.address!.port} (its redirector lookup bypasses the proxy, so give it the server)`,
    `  Mail.Ru Agent or another client: its SOCKS5 proxy set to ${proxy}; requests for ${MRIM_HOST}:${PREFERRED.redirector}`,
    `    and :${PREFERRED.server} go to the local server (--map), so the server setting can stay as it is`,
    ...sniffer.reverse.slice(0, 1).map((r) => `  A client without a proxy setting: its redirector (server address) set to ${formatEndpoint(r.address)} (reverse mode)`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function runDemo(flags: DemoFlags): Promise<boolean> {
  // Before anything starts: a script that cannot be used is a usage error, not a half-started demo.
  const addons = await loadScripts(flags.script);
  // From the start, so that Ctrl-C during the scripted session still closes the capture and the ports.
  const stop = waitForSignal();
  const { server, address, preferred: serverPreferred } = await startServer(!!flags.freePorts);
  let sniffer: Sniffer | undefined;
  const web = new LiveWebView(true, 'the web view');
  try {
    const started = await startProxy({
      host: HOST,
      map: [
        { from: { host: MRIM_HOST, port: PREFERRED.redirector }, to: { host: HOST, port: address.redirectorPort! } },
        { from: { host: MRIM_HOST, port: PREFERRED.server }, to: { host: HOST, port: address.port } },
      ],
      // For clients without a SOCKS setting; on a free port, the usual ones being the server's.
      reverse: [{ listen: { port: 0 }, upstream: { host: HOST, port: address.redirectorPort! }, redirector: true }],
      record: flags.record ?? defaultCapturePath(),
      recordFields: flags.recordFields,
      addons,
    }, { hex: flags.hex, onEvent: web.onEvent }, !!flags.freePorts);
    sniffer = started.sniffer;
    const view = await web.serve(sniffer);
    const fellBack = (wanted: number) => color.yellow(` (${wanted} was in use)`);
    const out = (line: string) => process.stdout.write(line + '\n');
    out(color.bold('mrimtap demo') + ': the reference MRIM server and the sniffing proxy, on this machine only');
    out(`  MRIM server   ${HOST}:${address.port}${serverPreferred ? '' : fellBack(PREFERRED.server)}`);
    out(`  redirector    ${HOST}:${address.redirectorPort}${serverPreferred ? '' : fellBack(PREFERRED.redirector)}  (answers ${HOST}:${address.port})`);
    out(`  SOCKS5 proxy  ${formatEndpoint(sniffer.address!)}${started.preferred ? '' : fellBack(PREFERRED.proxy)}  (maps ${MRIM_HOST}:${PREFERRED.redirector} and :${PREFERRED.server} to the server)`);
    for (const r of sniffer.reverse) out(`  reverse       ${formatEndpoint(r.address)}  (plain TCP to the redirector; its answer is rewritten so the session comes back through mrimtap)`);
    if (addons) out(`  addons        ${addons.map((a) => a.name).join(', ')}  (the proxy's frames go through them: the scripted session may not complete)`);
    out(`  recording to  ${sniffer.capture?.path}`);
    out(`  ${webViewLine(view, 'web view     ')}  (open it in a browser: the session live, decoded)`);

    if (!flags.exit && process.stdout.isTTY) {
      // Someone at a terminal gets time to open the page and watch the session arrive.
      out(color.dim(`\n  The scripted session starts in ${WATCH_WAIT_MS / 1000} s, or as soon as the web view is open.`));
      await Promise.race([web.store.watched, new Promise((r) => setTimeout(r, WATCH_WAIT_MS).unref()), stop.received]);
    }
    // Ctrl-C during the scripted session stops it there; closing the server and the proxy below ends its clients.
    const abort = new AbortController();
    const played = script(`socks5://${formatEndpoint(sniffer.address!)}`, address, abort.signal);
    const failure = await Promise.race([
      played.then(() => undefined, (e: Error) => e.message),
      stop.received.then((signal) => {
        abort.abort();
        return `interrupted (${signal})`;
      }),
    ]);
    played.catch(() => {});
    if (failure !== undefined) process.stdout.write(`\n${color.red(`⚠ the scripted session stopped: ${failure}`)}\n`);
    const ok = failure === undefined;
    if (abort.signal.aborted) return false;
    nextSteps(sniffer, address, !flags.exit);
    if (!flags.exit) {
      process.stdout.write(`\nServer and proxy stay up for your own client. ${color.bold('Ctrl-C')} to stop.\n`);
      await stop.received;
    }
    return ok;
  } finally {
    await sniffer?.stop();
    await web.close();
    await server.close();
    if (sniffer) printSummary(sniffer);
  }
}
