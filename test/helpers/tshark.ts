/** Debian's tshark, for checking what mrimtap writes against Wireshark itself; tests skip without it unless MRIMTAP_REQUIRE_TSHARK=1. */
import { execFile, execFileSync } from 'node:child_process';

function found(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const present = found();
if (!present && process.env.MRIMTAP_REQUIRE_TSHARK === '1') throw new Error('tshark is required (MRIMTAP_REQUIRE_TSHARK=1) but not installed: apt-get install tshark');

/** Why tshark tests are skipped, or false when they run. */
export const tsharkMissing: string | false = present ? false : 'tshark is not installed (apt-get install tshark)';

export function tshark(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tshark', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tshark ${args.join(' ')} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Each TCP stream's bytes per direction as tshark reassembles them (Follow TCP Stream, raw). */
export async function followStreams(pcap: string, streams: number): Promise<Array<{ stream: number; client: string; server: string; c2s: Buffer; s2c: Buffer }>> {
  const args = ['-r', pcap, '-q'];
  for (let i = 0; i < streams; i++) args.push('-z', `follow,tcp,raw,${i}`);
  const out = await tshark(args);
  return out
    .split(/^={10,}$/m)
    .filter((section) => section.includes('Follow: tcp,raw'))
    .map((section) => {
      const node = (n: number) => new RegExp(`^Node ${n}: (.*)$`, 'm').exec(section)?.[1] ?? '';
      const hex = { c2s: '', s2c: '' };
      for (const line of section.split('\n')) {
        if (/^\t[0-9a-f]+$/.test(line)) hex.s2c += line.slice(1);
        else if (/^[0-9a-f]+$/.test(line)) hex.c2s += line;
      }
      const stream = Number(/^Filter: tcp\.stream eq (\d+)$/m.exec(section)?.[1]);
      return { stream, client: node(0), server: node(1), c2s: Buffer.from(hex.c2s, 'hex'), s2c: Buffer.from(hex.s2c, 'hex') };
    })
    // tshark prints the streams in no particular order.
    .sort((a, b) => a.stream - b.stream);
}
