/**
 * Captures to replay, made the way a user makes them: reference clients against the reference server,
 * through the sniffing proxy with --record. The session is the demo's in short — alice (1.8, via the
 * redirector), bob (1.21) and carol (1.23, MD5 password) log in, presence, messages both ways, one to
 * carol while she is offline, a white-pages search, logouts — and the capture is read back as events.
 */
import { once } from 'node:events';
import { openCapture } from '../../src/capture/open.js';
import { MrimClient } from '../../src/client/index.js';
import { startSniffer } from '../../src/proxy/sniffer.js';
import { buildRecording, selectSessions, type RecordedConnection, type Recording } from '../../src/replay/recording.js';
import { MrimServer, type ServerUser } from '../../src/server/index.js';
import { DEMO_USERS, withMutualContacts } from '../../src/server/users.js';
import type { TapEvent } from '../../src/tap/events.js';

export const ALICE = { login: 'alice@mail.ru', password: 'alice' };
export const BOB = { login: 'bob@mail.ru', password: 'bob' };
export const CAROL = { login: 'carol@list.ru', password: 'carol' };

/** The demo users (contacts of each other), changed by `edit` for a server that behaves differently. */
export function demoUsers(edit: (users: ServerUser[]) => ServerUser[] = (u) => u): ServerUser[] {
  return withMutualContacts(edit(DEMO_USERS.map((u) => ({ ...u }))));
}

async function next<T>(client: MrimClient, event: string, test: (v: T) => boolean = () => true): Promise<T> {
  const signal = AbortSignal.timeout(10_000);
  for (;;) {
    const [value] = (await once(client, event, { signal })) as [T];
    if (test(value)) return value;
  }
}

/** Records the three-party session into `path` (a fresh reference server with the demo users). */
export async function recordSession(path: string): Promise<void> {
  const server = new MrimServer({ port: 0, redirectorPort: 0, users: demoUsers() });
  const address = await server.listen();
  const sniffer = await startSniffer({ host: '127.0.0.1', port: 0, record: path });
  const socks = `socks5://127.0.0.1:${sniffer.address!.port}`;
  const clients: MrimClient[] = [];
  const client = (opts: ConstructorParameters<typeof MrimClient>[0]) => {
    const c = new MrimClient({ socks, responseTimeoutMs: 10_000, ...opts });
    clients.push(c);
    return c;
  };
  const direct = { host: '127.0.0.1', port: address.port };
  try {
    const alice = client({ redirector: { host: '127.0.0.1', port: address.redirectorPort! }, ...ALICE, proto: '1.8' });
    await alice.connect();
    const bob = client({ server: direct, ...BOB, proto: '1.21' });
    const bobOnline = next(alice, 'contactStatus', (s: { email: string }) => s.email === BOB.login);
    await bob.connect();
    await bobOnline;
    const bobAway = next(alice, 'contactStatus', (s: { email: string; status: { name: string } }) => s.status.name === 'away');
    await bob.setStatus('away', { title: 'Обедаю' });
    await bobAway;
    const toBob = next(bob, 'message');
    await alice.sendMessage(BOB.login, 'Привет, Боб!');
    await toBob;
    const toAlice = next(alice, 'message');
    await bob.sendMessage(ALICE.login, 'Привет, Алиса!');
    await toAlice;
    await alice.sendMessage(CAROL.login, 'Carol, позвони мне.');
    const carol = client({ server: direct, ...CAROL, proto: '1.23' });
    const offline = next(carol, 'message', (m: { offline: boolean }) => m.offline);
    await carol.connect();
    await offline;
    await bob.search({ email: CAROL.login });
    for (const c of clients) await c.logout();
    // The proxy logs each close once both sides are done.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    for (const c of clients) if (c.state !== 'closed' && c.state !== 'idle') await c.logout().catch(() => undefined);
    await sniffer.stop();
    await server.close();
  }
}

export async function readEvents(path: string): Promise<TapEvent[]> {
  const events: TapEvent[] = [];
  for await (const entry of (await openCapture(path)).entries) if (entry.kind === 'event') events.push(entry.event);
  return events;
}

export async function readSessions(path: string, conns?: number[]): Promise<{ recording: Recording; sessions: RecordedConnection[] }> {
  const recording = buildRecording(await readEvents(path));
  return { recording, sessions: selectSessions(recording, conns) };
}
