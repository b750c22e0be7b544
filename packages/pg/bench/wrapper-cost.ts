/**
 * What the Ballast layers cost per statement with the server taken out: pg.Client#query is replaced by one that
 * answers at once, so raw pg.Pool and the cluster client run the same fake statement and the difference is the
 * wrapper alone (policy, host, pool, connection). A diagnostic for the hot path, not a benchmark of record.
 *
 *   benchmarks/node_modules/.bin/tsx packages/pg/bench/wrapper-cost.ts [--calls 400000] [--rounds 5]
 */
import { startPostgres } from '@ballast/testkit';
import pg from 'pg';
import { createCluster } from '../dist/index.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const CALLS = arg('--calls', 400_000);
const ROUNDS = arg('--rounds', 5);
/** Below the limiter's initial limit (20): this measures the fixed path, not queueing. */
const IN_FLIGHT = arg('--in-flight', 8);

const RESULT = { command: 'SELECT', rowCount: 1, oid: 0, rows: [{ '?column?': 1 }], fields: [] };
type Cb = (error: Error | null, result: unknown) => void;
function fakeQueries(): void {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const real = proto.query;
  proto.query = function fakeQuery(this: unknown, ...args: unknown[]): unknown {
    if (args[0] !== 'SELECT 1') return real.apply(this, args);
    const cb = args.find((a): a is Cb => typeof a === 'function');
    if (cb !== undefined) {
      setImmediate(cb, null, RESULT); // an answer arrives as I/O, not as a microtask
      return undefined;
    }
    return new Promise((resolve) => setImmediate(resolve, RESULT));
  };
}

async function closedLoop(db: { stats(): unknown }, call: () => Promise<unknown>): Promise<number> {
  let left = CALLS;
  let errors = 0;
  const start = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (left-- > 0) {
      try {
        await call();
      } catch (error) {
        errors++;
        if (errors === 1) {
          console.log(`first error after ${CALLS - left} calls: ${(error as Error).message}`);
          console.log(JSON.stringify((db.stats() as { hosts: { policy: unknown }[] }).hosts[0]?.policy));
        }
        await new Promise(setImmediate); // a caller that was refused does not spin
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const used = process.cpuUsage(start);
  if (errors > 0) console.log(`${errors} errors`);
  return ((used.user + used.system) * 1000) / CALLS; // ns per call
}

const server = await startPostgres({ replicas: 0 });
try {
  if (!process.argv.includes('--real')) fakeQueries(); // after startPostgres: it creates its roles through pg
  const url = server.primary.url;
  const pool = new pg.Pool({ connectionString: url, max: IN_FLIGHT });
  pool.on('error', () => {});
  // Connections open before the first round (the cold start is not what this measures).
  const db = createCluster({ primary: url, pool: { min: IN_FLIGHT, max: IN_FLIGHT } });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const control = new pg.Pool({ connectionString: url, max: IN_FLIGHT });
  control.on('error', () => {});
  const variants: [string, () => Promise<unknown>][] = [
    ['raw pg.Pool', () => pool.query('SELECT 1')],
    ['raw pg.Pool again', () => control.query('SELECT 1')],
    ['ballast', () => db.query('SELECT 1')],
    ['ballast deadlineMs', () => db.query('SELECT 1', [], { deadlineMs: 1000 })],
  ];
  const trace: number[] = [];
  const tracer = process.argv.includes('--trace')
    ? setInterval(() => {
        const h = (db.stats() as { hosts: { policy: { limiter: { limit: number } } }[] }).hosts[0];
        trace.push(h?.policy.limiter.limit ?? -1);
      }, 100)
    : undefined;
  if (process.argv.includes('--promises')) {
    // Promises created per call: deterministic, unlike CPU time on a shared machine.
    const { createHook } = await import('node:async_hooks');
    for (const [name, call] of variants) {
      await closedLoop(db, call);
      let promises = 0;
      const hook = createHook({
        init(_id, type) {
          if (type === 'PROMISE') promises++;
        },
      }).enable();
      const n = 10_000;
      for (let i = 0; i < n; i++) await call();
      hook.disable();
      // The loop's own `await` of each call's promise adds none; the count is the call's.
      console.log(`${name.padEnd(20)} ${(promises / n).toFixed(2)} promises/call`);
    }
    variants.length = 0;
  }
  const only = process.argv.indexOf('--only');
  if (only >= 0) {
    // One variant alone, for a CPU profile (node --cpu-prof): warm up, then the measured calls.
    const picked = variants.filter(([name]) => name.startsWith(process.argv[only + 1] ?? ''));
    for (const [name, call] of picked) {
      await closedLoop(db, call);
      console.log(`${name}: ${(await closedLoop(db, call)).toFixed(0)} ns/call`);
    }
    variants.length = 0;
  }
  for (const [, call] of variants) await closedLoop(db, call); // warm up: connections, JIT
  const results = new Map<string, number[]>();
  for (let r = 0; r < ROUNDS; r++) {
    // Rotated each round, so no variant always runs right after another one's garbage.
    const order = variants.map((_, i) => variants[(i + r) % variants.length] as (typeof variants)[number]);
    for (const [name, call] of order) {
      const ns = await closedLoop(db, call);
      results.set(name, [...(results.get(name) ?? []), ns]);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const rawRounds = results.get('raw pg.Pool') ?? [];
  const raw = med(rawRounds);
  for (const [name, xs] of results) {
    const m = med(xs);
    const paired = med(xs.map((x, i) => x / (rawRounds[i] as number)));
    console.log(
      `${name.padEnd(20)} ${m.toFixed(0).padStart(6)} ns/call  +${(m - raw).toFixed(0)} ns  paired ${paired.toFixed(3)}x  ` +
        `rounds ${xs.map((x, i) => (x / (rawRounds[i] as number)).toFixed(2)).join(' ')}`,
    );
  }
  if (tracer !== undefined) {
    clearInterval(tracer);
    console.log('limit every 100 ms:', trace.join(' '));
  }
  const host = (db.stats() as { hosts: { policy: { limiter: { limit: number } }; pool: unknown }[] })
    .hosts[0];
  console.log('limit', host?.policy.limiter.limit, 'pool', JSON.stringify(host?.pool));
  await pool.end();
  await control.end();
  await db.close();
} finally {
  await server.stop();
}
