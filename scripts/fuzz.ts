/**
 * `npm run fuzz -- --iterations N`: the fuzz targets of test/helpers/fuzz.ts run long, each in a worker
 * thread with a memory cap and a watchdog, so a crash, a hang or runaway memory is reported with the
 * seed and path that replay it instead of taking the run down. Prints executions per second per target.
 *
 *   npm run fuzz -- --iterations 200000            every target, a random seed
 *   npm run fuzz -- --target pcap --seed 42        one target, a given seed
 *   npm run fuzz -- --target pcap --seed 42 --path 1234:5:0   replay one failure (from its report)
 */
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { FUZZ_TARGETS, fuzzTarget } from '../test/helpers/fuzz.js';

interface Job {
  target: string;
  seed: number;
  iterations: number;
  path?: string;
}

type Report =
  | { kind: 'progress'; runs: number }
  | { kind: 'done'; runs: number; ms: number; failure?: { path: string; error: string; input: string } };

/** A worker that made no progress for this long is taken as hung. */
const HANG_MS = 30_000;
/** The heap a target may use; past it the worker dies and the input is reported. */
const HEAP_MB = 1024;
const PROGRESS_EVERY = 50;

async function runInWorker(job: Job): Promise<void> {
  const property = fuzzTarget(job.target).property();
  let runs = 0;
  // Counted before each execution: after a hang or a crash the last count says where it was.
  const count = fc.beforeEach(() => {
    runs++;
    if (runs % PROGRESS_EVERY === 0) parentPort!.postMessage({ kind: 'progress', runs } satisfies Report);
  });
  const started = Date.now();
  const result = await fc.check(property, { seed: job.seed, numRuns: job.iterations, ...(job.path ? { path: job.path } : {}), plugins: [count] });
  const report: Report = { kind: 'done', runs: result.numRuns, ms: Date.now() - started };
  if (result.failed) {
    report.failure = {
      path: result.counterexamplePath ?? '',
      error: String((result.errorInstance as Error)?.stack ?? result.errorInstance).split('\n').slice(0, 8).join('\n'),
      input: fc.stringify(result.counterexample).slice(0, 2000),
    };
  }
  parentPort!.postMessage(report);
}

interface Outcome {
  target: string;
  runs: number;
  ms: number;
  problem?: string;
}

function supervise(job: Job): Promise<Outcome> {
  return new Promise((resolve) => {
    // Module hooks (tsx) are the main thread's own: the worker registers them before loading this file.
    const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => (tsx.register(), import(${JSON.stringify(import.meta.url)})));`;
    const worker = new Worker(boot, { eval: true, workerData: job, resourceLimits: { maxOldGenerationSizeMb: HEAP_MB } });
    const started = Date.now();
    let runs = 0;
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      void worker.terminate();
      resolve(o);
    };
    let lastProgress = Date.now();
    // The first executions after `runs` are the suspects; replaying from that seed shows which one.
    const where = () => `after about ${runs} executions (replay: --target ${job.target} --seed ${job.seed} --iterations ${runs + PROGRESS_EVERY})`;
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > HANG_MS) finish({ target: job.target, runs, ms: Date.now() - started, problem: `no progress for ${HANG_MS / 1000} s: a hang ${where()}` });
    }, 1000);
    worker.on('message', (r: Report) => {
      lastProgress = Date.now();
      if (r.kind === 'progress') runs = r.runs;
      else {
        const f = r.failure;
        const problem = f && `property failed — replay: npm run fuzz -- --target ${job.target} --seed ${job.seed} --path ${f.path}\n${f.error}\ninput: ${f.input}`;
        finish({ target: job.target, runs: r.runs, ms: r.ms, ...(problem ? { problem } : {}) });
      }
    });
    worker.on('error', (e: Error & { code?: string }) =>
      finish({ target: job.target, runs, ms: Date.now() - started, problem: `${e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `over ${HEAP_MB} MB of heap` : `crashed: ${e.message}`} ${where()}` }),
    );
    worker.on('exit', (code) => finish({ target: job.target, runs, ms: Date.now() - started, problem: `worker exited (${code}) ${where()}` }));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '10000' },
      target: { type: 'string', multiple: true },
      seed: { type: 'string' },
      path: { type: 'string' },
      list: { type: 'boolean' },
    },
  });
  if (values.list) {
    for (const t of FUZZ_TARGETS) console.log(`${t.name}\n  ${t.checks}`);
    return 0;
  }
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations takes a whole number ≥ 1, not "${values.iterations}"`);
  const targets = values.target?.flatMap((t) => t.split(',')) ?? FUZZ_TARGETS.map((t) => t.name);
  targets.forEach(fuzzTarget);
  if (values.path && targets.length !== 1) throw new Error('--path replays one failure: give its --target');
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`fuzz: seed ${seed}, ${iterations} executions per target${values.path ? `, replaying path ${values.path}` : ''}`);
  let failed = 0;
  for (const target of targets) {
    const o = await supervise({ target, seed, iterations, ...(values.path ? { path: values.path } : {}) });
    const rate = o.ms > 0 ? Math.round((o.runs / o.ms) * 1000) : 0;
    console.log(`${target.padEnd(15)} ${String(o.runs).padStart(9)} executions in ${(o.ms / 1000).toFixed(1).padStart(6)} s  ${String(rate).padStart(7)}/s  ${o.problem ? 'FAILED' : 'ok'}`);
    if (o.problem) {
      failed++;
      console.log(o.problem.replace(/^/gm, '    '));
    }
  }
  console.log(failed ? `${failed} target(s) failed` : 'no failures');
  return failed ? 1 : 0;
}

if (isMainThread) {
  main().then(
    (code) => (process.exitCode = code),
    (e: Error) => {
      console.error(`fuzz: ${e.message}`);
      process.exitCode = 2;
    },
  );
} else {
  void runInWorker(workerData as Job);
}
