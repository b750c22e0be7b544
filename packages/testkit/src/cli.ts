#!/usr/bin/env node
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startPostgres } from './postgres.js';
import { startRedis } from './redis.js';
import { destroySync, persistentResources, sweepOrphans } from './registry.js';

const HELP = `ballast-testkit — real PostgreSQL and Redis on loopback, for demos, benchmarks and poking at by hand

Usage:
  ballast-testkit up [--replicas N] [--redis] [--redis-replicas N] [--async-commit] [--json]
      Starts a PostgreSQL primary with N streaming replicas (default 1) and, with --redis, Redis; prints their
      URLs as environment lines (or JSON with --json) and exits, leaving the servers running.
  ballast-testkit down
      Stops every server 'up' started and removes its directories.
  ballast-testkit status
      Lists what 'up' started and is still running.
`;

async function up(values: Record<string, string | boolean | undefined>): Promise<void> {
  const replicas = Number(values.replicas ?? 1);
  const redisReplicas = Number(values['redis-replicas'] ?? 0);
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new Error(`--replicas must be a whole number, got ${String(values.replicas)}`);
  const pg = await startPostgres({
    replicas,
    persistent: true,
    ...(values['async-commit'] === true ? { synchronousCommit: 'off' as const } : {}),
  });
  const out: Record<string, string> = {
    BALLAST_PG_PRIMARY_URL: pg.primary.url,
    BALLAST_PG_REPLICA_URLS: pg.replicas.map((r) => r.url).join(','),
  };
  if (values.redis === true || redisReplicas > 0) {
    const redis = await startRedis({ replicas: redisReplicas, persistent: true });
    out.BALLAST_REDIS_URL = redis.url;
    out.BALLAST_REDIS_REPLICA_URLS = redis.replicas.map((r) => r.url).join(',');
  }
  if (values.json === true) console.log(JSON.stringify(out, null, 2));
  else for (const [k, v] of Object.entries(out)) console.log(`${k}=${v}`);
}

function down(): void {
  sweepOrphans();
  let stopped = 0;
  for (const { path, state } of persistentResources()) {
    for (const r of state.resources) if (r.persistent) destroySync(r);
    stopped += state.resources.length;
    rmSync(path, { force: true });
  }
  console.log(stopped === 0 ? 'nothing to stop' : `stopped ${stopped} server group(s)`);
}

function status(): void {
  const all = persistentResources();
  if (all.length === 0) console.log('nothing running');
  for (const { state } of all) {
    for (const r of state.resources) console.log(`${r.label}: pids ${r.pids.join(' ')}; ${r.dirs.join(' ')}`);
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      replicas: { type: 'string' },
      redis: { type: 'boolean' },
      'redis-replicas': { type: 'string' },
      'async-commit': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help === true || command === undefined) {
    console.log(HELP);
    return;
  }
  if (command === 'up') await up(values);
  else if (command === 'down') down();
  else if (command === 'status') status();
  else throw new Error(`unknown command '${command}'\n\n${HELP}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`ballast-testkit: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
