/**
 * One instance of the `multi-instance` scenario, run as its own process: an open loop of writes (primary) and
 * eventual reads (replica) with 1 s deadlines, through a bare pg.Pool pair or the Ballast cluster client. Reads its
 * settings from `BALLAST_WORKER` (JSON), starts the load on "go" from the parent, prints one JSON line when done.
 */
import { createCluster } from '@ballast/pg';
import { openLoop } from '../lib/open-loop.js';
import { endPool, errorKind, rawPool } from '../lib/pg-bench.js';

interface Settings {
  mode: 'bare' | 'ballast';
  primaryUrl: string;
  replicaUrl: string;
  ratePerSec: number;
  writeShare: number;
  loadMs: number;
  deadlineMs: number;
  poolMax: number;
}

class ClientTimeout extends Error {
  override name = 'ClientTimeout';
}

const s = JSON.parse(process.env.BALLAST_WORKER ?? '{}') as Settings;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new ClientTimeout('client timeout')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function makeClient(): { write(): Promise<unknown>; read(): Promise<unknown>; close(): Promise<void> } {
  if (s.mode === 'bare') {
    const primary = rawPool({ connectionString: s.primaryUrl, max: s.poolMax });
    const replica = rawPool({ connectionString: s.replicaUrl, max: s.poolMax });
    return {
      write: () => withTimeout(primary.query('INSERT INTO multi (v) VALUES (1)'), s.deadlineMs),
      read: () => withTimeout(replica.query('SELECT count(*) FROM multi WHERE id < 100'), s.deadlineMs),
      close: async () => {
        await Promise.all([endPool(primary), endPool(replica)]);
      },
    };
  }
  const db = createCluster({ primary: s.primaryUrl, replicas: [s.replicaUrl], pool: { max: s.poolMax } });
  const options = { deadlineMs: s.deadlineMs };
  return {
    write: () => db.write('INSERT INTO multi (v) VALUES (1)', [], options),
    read: () => db.read('SELECT count(*) FROM multi WHERE id < 100', [], options),
    close: () => db.close(),
  };
}

async function main(): Promise<void> {
  const client = makeClient();
  // Warm up: connections open, Ballast's health checks see the replica.
  for (let i = 0; i < 10; i++) await Promise.allSettled([client.write(), client.read()]);
  await new Promise((resolve) => setTimeout(resolve, 600));
  process.send?.({ ready: true });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  let ok = 0;
  let failed = 0;
  const kinds: Record<string, number> = {};
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  let n = 0;
  const start = performance.now();
  await openLoop(s.ratePerSec, s.loadMs, () => {
    const t = performance.now();
    const isWrite = n++ % Math.round(1 / s.writeShare) === 0;
    pending.push(
      (isWrite ? client.write() : client.read()).then(
        () => {
          const ms = performance.now() - t;
          // goodput: answered within the deadline, before the load stopped
          if (ms <= s.deadlineMs && t + ms - start <= s.loadMs) {
            ok++;
            latencies.push(ms);
          } else failed++;
        },
        (error: unknown) => {
          failed++;
          const kind = errorKind(error);
          kinds[kind] = (kinds[kind] ?? 0) + 1;
        },
      ),
    );
  });
  await Promise.all(pending);
  await client.close();
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN;
  process.send?.({ result: { offered: n, ok, failed, kinds, p99Ms: Math.round(p99 * 10) / 10 } });
}

main().catch((error: unknown) => {
  process.send?.({ error: String(error) });
  process.exitCode = 1;
});
