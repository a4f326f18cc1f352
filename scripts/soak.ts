/**
 * `npm run soak -- --clients 300 --duration 120`: hundreds of reference clients (mixed protocol
 * versions) log in through a recording `mrimtap proxy` to a `mrimtap server` (both separate
 * processes, as users run them) and message each other for a set time. At the end it checks that every
 * message sent was delivered and received exactly once, that the capture holds every frame the clients
 * sent and received (counted per direction) and nothing the decoder found wrong, that no client saw an
 * error, and that neither process grew in memory once all clients were online. Prints its figures;
 * exit code 1 when any check fails.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MrimClient } from '../src/client/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'mrimtap.js');
const PROFILES = ['1.8', '1.19', '1.21', '1.23'] as const;
/** Memory samples before this point (all clients online, a first round of messages) are warm-up. */
const WARM_UP_FRACTION = 0.25;
/** Growth allowed between the first and the last third of the samples after warm-up. */
const GROWTH_LIMIT = { ratio: 0.25, mib: 30 };

interface Child {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
}

function start(args: string[], ready: RegExp, stream: 'stdout' | 'stderr'): Promise<Child & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let text = '';
  // Everything is read (and dropped past the banner), so neither process ever stalls on its output.
  child.stdout.on('data', (c: Buffer) => stream === 'stdout' && text.length < 100_000 && (text += c));
  child.stderr.on('data', (c: Buffer) => (stream === 'stderr' || text.length < 100_000) && (text += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner from mrimtap ${args[0]}:\n${text}`)), 30_000);
    const check = () => {
      const match = ready.exec(text);
      if (!match) return;
      clearTimeout(timer);
      resolve({ child, exited, match });
    };
    child[stream].on('data', check);
    void exited.then((code) => reject(new Error(`mrimtap ${args[0]} exited (${code}):\n${text}`)));
  });
}

/** Resident memory (MiB) and CPU seconds of a process, from /proc (Linux). */
function usage(pid: number): { rssMiB: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { rssMiB: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 };
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

interface Counts {
  c2s: number;
  s2c: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '300' },
      duration: { type: 'string', default: '60' },
      interval: { type: 'string', default: '2' },
      sample: { type: 'string', default: '5' },
      keep: { type: 'boolean' },
    },
  });
  const clients = Number(values.clients);
  const durationS = Number(values.duration);
  const intervalMs = Number(values.interval) * 1000;
  const sampleMs = Number(values.sample) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'mrimtap-soak-'));
  const capture = join(dir, 'soak.jsonl');
  const usersFile = join(dir, 'users.json');
  const login = (i: number) => `u${String(i).padStart(4, '0')}@soak.ru`;
  // Each user has the next five as contacts: presence traffic without N² contact lists.
  const users = Array.from({ length: clients }, (_, i) => ({
    login: login(i),
    password: `pw${i}`,
    contacts: Array.from({ length: Math.min(5, clients - 1) }, (_, k) => ({ email: login((i + k + 1) % clients) })),
  }));
  writeFileSync(usersFile, JSON.stringify({ users }));

  console.log(`soak: ${clients} clients (${PROFILES.join(', ')}), a message every ~${values.interval} s each, for ${durationS} s`);
  const server = await start(['server', '--port', '0', '--redirector-port', 'off', '--users', usersFile, '--json'], /"event":"banner".*?"port":(\d+)/, 'stdout');
  const proxy = await start(['proxy', '--port', '0', '--quiet', '--record', capture], /SOCKS5 on 127\.0\.0\.1:(\d+)/, 'stderr');
  const serverPort = Number(server.match[1]);
  const socks = `socks5://127.0.0.1:${proxy.match[1]}`;
  const problems: string[] = [];
  const frames: Counts = { c2s: 0, s2c: 0 };
  const sent = new Set<string>();
  const received = new Map<string, number>();
  let undelivered = 0;

  const samples: Array<{ t: number; proxy: number; server: number; messages: number }> = [];
  const t0 = Date.now();
  const sample = () => samples.push({ t: (Date.now() - t0) / 1000, proxy: usage(proxy.child.pid!).rssMiB, server: usage(server.child.pid!).rssMiB, messages: sent.size });
  const sampler = setInterval(sample, sampleMs);

  const all: MrimClient[] = [];
  await pool(
    users.map((u, i) => ({ u, i })),
    25,
    async ({ u, i }) => {
      const c = new MrimClient({ server: `127.0.0.1:${serverPort}`, socks, login: u.login, password: u.password, proto: PROFILES[i % PROFILES.length], responseTimeoutMs: 30_000 });
      c.on('frame', (f) => frames[f.dir]++);
      c.on('message', (m) => received.set(m.text, (received.get(m.text) ?? 0) + 1));
      c.on('disconnect', (d) => d.error && problems.push(`${u.login}: disconnected: ${d.error.message}`));
      c.on('warning', (w) => problems.push(`${u.login}: ${w.text}`));
      await c.connect();
      all.push(c);
    },
  );
  console.log(`  ${all.length} clients online in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  sample();

  const stopAt = Date.now() + durationS * 1000;
  let n = 0;
  await Promise.all(
    all.map(async (c, i) => {
      await delay(Math.random() * intervalMs);
      while (Date.now() < stopAt) {
        const to = all[(i + 1 + Math.floor(Math.random() * (all.length - 1))) % all.length];
        const text = `soak ${c.login} #${n++} ${'·'.repeat(Math.floor(Math.random() * 200))}`;
        sent.add(text);
        try {
          const d = await c.sendMessage(to.login, text);
          if (!d.delivered) undelivered++;
        } catch (e) {
          problems.push(`${c.login} → ${to.login}: ${(e as Error).message}`);
        }
        await delay(intervalMs * (0.5 + Math.random()));
      }
    }),
  );
  // The last messages are acknowledged already (sendMessage waits for the status); give receipts a moment.
  await delay(1000);
  sample();
  clearInterval(sampler);
  await pool(all, 25, (c) => c.logout());
  const closes = () => readFileSync(capture, 'utf8').split('\n').filter((l) => l.includes('"kind":"close"')).length;
  for (const deadline = Date.now() + 15_000; closes() < all.length && Date.now() < deadline; ) await delay(200);
  const proxyCpu = usage(proxy.child.pid!).cpuS;
  const serverCpu = usage(server.child.pid!).cpuS;
  proxy.child.kill('SIGINT');
  server.child.kill('SIGINT');
  const [proxyCode, serverCode] = await Promise.all([proxy.exited, server.exited]);
  if (proxyCode !== 0) problems.push(`the proxy exited with ${proxyCode}`);
  if (serverCode !== 0) problems.push(`the server exited with ${serverCode}`);

  // Every message once, at the right place.
  const missing = [...sent].filter((t) => !received.has(t)).length;
  const doubled = [...received.values()].filter((k) => k > 1).length;
  if (undelivered) problems.push(`${undelivered} messages not delivered`);
  if (missing) problems.push(`${missing} messages never received`);
  if (doubled) problems.push(`${doubled} messages received more than once`);

  // Every frame in the capture, and nothing odd in it.
  const recorded: Counts = { c2s: 0, s2c: 0 };
  const odd: Record<string, number> = {};
  let events = 0;
  for (const line of readFileSync(capture, 'utf8').split('\n').slice(1)) {
    if (!line) continue;
    events++;
    const e = JSON.parse(line) as { kind: string; dir?: 'c2s' | 's2c'; level?: string; warnings?: string[] };
    if (e.kind === 'frame') {
      recorded[e.dir!]++;
      if (e.warnings?.length) odd['frames with warnings'] = (odd['frames with warnings'] ?? 0) + 1;
    } else if (e.kind === 'garbage' || (e.kind === 'note' && e.level === 'warn')) odd[e.kind] = (odd[e.kind] ?? 0) + 1;
  }
  if (recorded.c2s !== frames.c2s || recorded.s2c !== frames.s2c) {
    problems.push(`capture frames c2s ${recorded.c2s} / s2c ${recorded.s2c}, clients counted c2s ${frames.c2s} / s2c ${frames.s2c}`);
  }
  for (const [what, k] of Object.entries(odd)) problems.push(`${k} ${what} in the capture`);

  // Memory after warm-up: the last third against the first.
  const steady = samples.filter((s) => s.t >= samples.at(-1)!.t * WARM_UP_FRACTION);
  const third = Math.max(1, Math.floor(steady.length / 3));
  for (const who of ['proxy', 'server'] as const) {
    const first = mean(steady.slice(0, third).map((s) => s[who]));
    const last = mean(steady.slice(-third).map((s) => s[who]));
    if (last - first > Math.max(GROWTH_LIMIT.mib, first * GROWTH_LIMIT.ratio)) problems.push(`the ${who} grew from ${first.toFixed(0)} to ${last.toFixed(0)} MiB`);
  }

  const elapsed = (Date.now() - t0) / 1000;
  console.log(`  ${sent.size} messages sent, ${sent.size - undelivered} delivered, ${received.size} received (${(sent.size / durationS).toFixed(0)}/s)`);
  console.log(`  frames: clients sent ${frames.c2s} and received ${frames.s2c}; the capture holds ${recorded.c2s} and ${recorded.s2c} (${events} events, ${(statSync(capture).size / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  CPU: proxy ${proxyCpu.toFixed(1)} s, server ${serverCpu.toFixed(1)} s over ${elapsed.toFixed(0)} s`);
  console.log('  memory (RSS MiB):   time   proxy  server  messages');
  for (const s of samples) console.log(`                   ${s.t.toFixed(0).padStart(5)} s ${s.proxy.toFixed(0).padStart(6)} ${s.server.toFixed(0).padStart(7)} ${String(s.messages).padStart(9)}`);
  if (values.keep) console.log(`  kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  if (problems.length) {
    console.log(`FAILED (${problems.length}):`);
    for (const p of problems.slice(0, 30)) console.log(`  ${p}`);
    return 1;
  }
  console.log('ok: every message delivered once, every frame recorded, no errors, no memory growth');
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    console.error(`soak: ${e.stack ?? e.message}`);
    process.exitCode = 2;
  },
);
