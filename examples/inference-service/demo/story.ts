/**
 * The story the demo plays against each mode: seven phases, the fault each one injects and the load it offers.
 */
import type { FaultProxy, PostgresCluster } from '@ballast/testkit';

/** Phase names, in the order they are played. */
export type PhaseName =
  | 'steady'
  | 'burst'
  | 'replica-lag'
  | 'brownout'
  | 'primary-outage'
  | 'redis-outage'
  | 'recovery';

/** One phase of the story. */
export interface Phase {
  name: PhaseName;
  /** Short heading for tables and charts. */
  title: string;
  /** What is broken during the phase, in words (`none` when nothing is). */
  fault: string;
  /** The offered chat rate as a multiple of the base rate R. */
  loadFactor: number;
  durationMs: number;
}

/** The offered load. Every phase offers `loadFactor × chatPerSec` chats; the rest is the same in every phase. */
export interface Rates {
  /** The base chat rate R, requests per second. */
  chatPerSec: number;
  /** `GET /v1/conversations/:id` per second (R / 2). */
  readPerSec: number;
  /** `POST /v1/embeddings/backfill` per second. */
  backfillPerSec: number;
  /** `limit` of every backfill call. */
  backfillLimit: number;
}

/**
 * The base chat rate R (req/s): a third of what the database serves (~190 chats/s, see
 * {@link PRIMARY_NETWORK_MS}), so steady is answered in full in both modes and the 5 × R burst (300/s) is 1.6x
 * past it. Measured on the 2-core machine that also runs PostgreSQL, Redis, both instances and the load generator.
 */
export const DEFAULT_CHAT_RATE = 60;

/** Rates for a base chat rate `chatPerSec`. */
export function ratesFor(chatPerSec: number): Rates {
  return { chatPerSec, readPerSec: chatPerSec / 2, backfillPerSec: 1, backfillLimit: 50 };
}

/** Length of a phase: ≈ 90 s a mode in a full run, ≈ 25 s with `--quick`. */
const PHASE_MS = 13_000;
const QUICK_PHASE_MS = 3_500;

const PLAN: readonly Omit<Phase, 'durationMs'>[] = [
  { name: 'steady', title: 'steady', fault: 'none', loadFactor: 1 },
  { name: 'burst', title: 'burst 5×', fault: 'none (5 × the chat rate)', loadFactor: 5 },
  { name: 'replica-lag', title: 'replica lag', fault: 'replica replay paused', loadFactor: 1 },
  { name: 'brownout', title: 'primary brownout', fault: 'primary +60 ms each way', loadFactor: 1 },
  { name: 'primary-outage', title: 'primary outage', fault: 'primary blackholed, then reset', loadFactor: 1 },
  { name: 'redis-outage', title: 'redis outage', fault: 'Redis blackholed, then reset', loadFactor: 1 },
  { name: 'recovery', title: 'recovery', fault: 'none', loadFactor: 1 },
];

/**
 * The phases in order, each a phase long — but the full story's burst lasts half of that: long enough for naive's
 * queue to pass the deadline, short enough that its backlog clears early in the replica-lag phase, which would
 * otherwise show nothing but that backlog (with a 13 s burst naive answered no chat in time in the whole
 * replica-lag phase). The quick story keeps the whole phase: naive's queue needs ~2 s to pass the deadline.
 */
export function storyPhases(quick: boolean): Phase[] {
  const durationMs = quick ? QUICK_PHASE_MS : PHASE_MS;
  return PLAN.map((p) => ({
    ...p,
    durationMs: p.name === 'burst' && !quick ? durationMs / 2 : durationMs,
  }));
}

/** What a fault acts on: the proxies the instances connect through, and the cluster (for replay). */
export interface FaultTargets {
  pgc: Pick<PostgresCluster, 'pauseReplay' | 'resumeReplay'>;
  primary: Pick<FaultProxy, 'set' | 'clear'>;
  replica: Pick<FaultProxy, 'set' | 'clear'>;
  redis: Pick<FaultProxy, 'set' | 'clear'>;
}

/**
 * The primary's network, each way, when nothing is wrong: 20 ms round trips, as to a managed database a region
 * away. With {@link POOL_PER_INSTANCE} connections per instance this makes the database, not this machine's CPU,
 * what a burst overloads: ~190 chats/s (two writes each on the primary) where the 2 cores serve ~400. On loopback
 * alone the burst measured which data layer costs less CPU, not how each one handles an overloaded database.
 */
export const PRIMARY_NETWORK_MS = 10;

/** Connections per host and instance (`PG_POOL_MAX`), in both modes. */
export const POOL_PER_INSTANCE = 4;

/** The primary's link without a fault. */
function primaryHealthy(t: FaultTargets): Promise<void> {
  return PRIMARY_NETWORK_MS > 0 ? t.primary.set({ latencyMs: PRIMARY_NETWORK_MS }) : t.primary.clear();
}

/** Injects the fault of `phase` (none for steady, burst and recovery). */
export async function startFault(phase: PhaseName, t: FaultTargets): Promise<void> {
  switch (phase) {
    case 'replica-lag':
      await t.pgc.pauseReplay(0);
      return;
    case 'brownout':
      await t.primary.set({ latencyMs: PRIMARY_NETWORK_MS + 60 });
      return;
    case 'primary-outage':
      await t.primary.set({ blackhole: true });
      return;
    case 'redis-outage':
      await t.redis.set({ blackhole: true });
      return;
    default:
      return;
  }
}

/** Removes the fault of `phase`. */
export async function endFault(phase: PhaseName, t: FaultTargets): Promise<void> {
  switch (phase) {
    case 'replica-lag':
      await t.pgc.resumeReplay(0);
      return;
    case 'brownout':
      await primaryHealthy(t);
      return;
    // The proxy drops what a blackhole swallows, where TCP would deliver it late: a connection that lost bytes
    // would wait forever for an answer to a query the server never got. Reset them all first, as a partition
    // long enough to kill connections would.
    case 'primary-outage':
      await t.primary.set({ reset: true });
      await primaryHealthy(t);
      return;
    case 'redis-outage':
      await t.redis.set({ reset: true });
      await t.redis.clear();
      return;
    default:
      return;
  }
}

/** Clears every fault and resumes replay: the state each mode starts from. */
export async function clearAllFaults(t: FaultTargets): Promise<void> {
  await Promise.all([primaryHealthy(t), t.replica.clear(), t.redis.clear()]);
  await t.pgc.resumeReplay(0);
}
