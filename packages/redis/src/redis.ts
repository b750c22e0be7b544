import {
  type AttemptContext,
  Events,
  type ExecuteOptions,
  type Listener,
  type TimerHandle,
  type Unsubscribe,
} from '@ballast/core';
import type { ChainableCommander, Redis } from 'ioredis';
import { type CacheAside, createCacheAside } from './cached.js';
import type { CacheAsideStats } from './cached-events.js';
import type { Loader } from './cached-flight.js';
import type { CacheAsideOptions, CachedOptions } from './cached-options.js';
import { delBySlot, mgetBySlot } from './cluster-keys.js';
import {
  type AckRequest,
  ackRequest,
  badKey,
  checkKeys,
  checkValue,
  type ExecOptions,
  isKey,
  type ReadOptions,
  type RedisKey,
  type RedisValue,
  type SetOptions,
  setArguments,
  type WriteOptions,
} from './command-args.js';
import type { RedisEvents } from './events.js';
import { addressOf } from './mask.js';
import { nodePolicy } from './node-policy.js';
import {
  type ReadFrom,
  type RedisClient,
  type RedisClientOptions,
  type ResolvedRedisClientOptions,
  resolveRedisClientOptions,
} from './options.js';
import { ackNode, callerNode, ownedNode } from './redis-connections.js';
import { invalidArgument } from './redis-errors.js';
import type { NodeContext, NodeStats, RedisNode } from './redis-node.js';
import { ackTimeoutMs, checkAck, writeWithAck } from './replica-ack.js';
import { StallWatchdog } from './stall-watchdog.js';
import type { CacheStore, CommandOptions } from './store.js';

/** What {@link BallastRedis.stats} returns: a snapshot, safe to serialise (no credentials). */
/**
 * Options of {@link createRedis}: the client's ({@link RedisClientOptions}) and those of its cache-aside
 * ({@link BallastRedis.cached}): `nearCache`, `serializer`, `loaderPolicy`.
 */
export type RedisOptions = RedisClientOptions &
  Pick<CacheAsideOptions, 'nearCache' | 'serializer' | 'loaderPolicy' | 'redisTimeoutMs'>;

/** The cache-aside options createRedis accepts besides the client's. */
const CACHE_OPTIONS: ReadonlySet<string> = new Set([
  'nearCache',
  'serializer',
  'loaderPolicy',
  'redisTimeoutMs',
]);

export interface RedisStats {
  name: string;
  closed: boolean;
  readFrom: ReadFrom;
  /** The primary connection (or Cluster), then each replica, then the connection of acknowledged writes once used. */
  nodes: NodeStats[];
  counts: {
    /** Reads meant for a replica that went to the primary. */
    replicaFallbacks: number;
  };
  /** The cache-aside's stats, once `cached()` or `invalidate()` was used (or cache options were given). */
  cached: CacheAsideStats | undefined;
}

/** Reads may be retried and hedged unless the call says otherwise. */
const READ: ExecuteOptions = Object.freeze({ idempotent: true });

function readOptions(options: ReadOptions | undefined): ExecuteOptions | undefined {
  if (options === undefined) return READ;
  if (options.idempotent !== undefined) return options;
  return {
    priority: options.priority,
    deadlineMs: options.deadlineMs,
    signal: options.signal,
    idempotent: true,
  };
}

const isOk = (reply: unknown): boolean => reply === 'OK';
const toVoid = (): void => {};

/**
 * A Redis client under Ballast's policies: every call has a deadline (without a timer of its own), goes through
 * an adaptive limiter and a circuit breaker, and is retried only when that is safe. Implements {@link CacheStore}.
 * Create it with {@link createRedis}.
 */
export class BallastRedis implements CacheStore {
  readonly name: string;
  readonly counts = { replicaFallbacks: 0 };
  readonly #o: ResolvedRedisClientOptions;
  readonly #events = new Events<RedisEvents>('redis');
  readonly #ctx: NodeContext;
  readonly #primary: RedisNode;
  readonly #replicas: RedisNode[];
  readonly #cluster: boolean;
  readonly #readReplica: boolean;
  readonly #watchdog: StallWatchdog;
  #ack: RedisNode | undefined = undefined;
  #nextReplica = 0;
  #timer: TimerHandle | undefined = undefined;
  #closed = false;
  #cache: CacheAside | undefined = undefined;
  readonly #cacheOptions: Pick<
    CacheAsideOptions,
    'nearCache' | 'serializer' | 'loaderPolicy' | 'redisTimeoutMs'
  >;

  /** @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option. */
  constructor(options: RedisOptions) {
    const o = resolveRedisClientOptions(options, CACHE_OPTIONS);
    this.#o = o;
    this.name = o.name;
    this.#readReplica = o.readFrom === 'replica';
    this.#watchdog = new StallWatchdog(o.stallTimeoutMs);
    this.#ctx = {
      name: o.name,
      events: this.#events,
      clock: o.clock,
      secrets: o.secrets,
      maxConnectWaiters: o.maxConnectWaiters,
      healthCheckTimeoutMs: o.healthCheckTimeoutMs,
      coalesceWrites: o.coalesceWrites,
    };
    const policy = nodePolicy(o, o.name);
    const replicaPolicies = o.replicas.map((url) => nodePolicy(o, `${o.name}@${addressOf(url)}`));
    this.#primary =
      o.client === undefined
        ? ownedNode(o, o.url, policy, 'primary', this.#ctx)
        : callerNode(o.client, policy, this.#ctx);
    this.#cluster = this.#primary.client.isCluster;
    this.#replicas = o.replicas.map((url, i) =>
      ownedNode(o, url, replicaPolicies[i] ?? policy, 'replica', this.#ctx),
    );
    this.#timer = o.clock.setTimeout(this.#tick, o.healthCheckIntervalMs);
    const { nearCache, serializer, loaderPolicy, redisTimeoutMs } = options;
    this.#cacheOptions = { nearCache, serializer, loaderPolicy, redisTimeoutMs };
    // Given cache options are checked now; with none, the cache (and its near cache) is made on first use.
    if (Object.values(this.#cacheOptions).some((v) => v !== undefined)) this.#cacheAside();
  }

  #cacheAside(): CacheAside {
    this.#cache ??= createCacheAside({
      store: this,
      name: `${this.name}-cached`,
      clock: this.#o.clock,
      random: this.#o.random,
      ...this.#cacheOptions,
    });
    return this.#cache;
  }

  /**
   * Cache-aside: the value at `key` from the near cache, else Redis, else `loader` (one call at a time per key,
   * under the loader's own policy), stored with `ttlMs` (jittered) and optional stale-while-revalidate and
   * stale-if-error windows. Keeps answering through a Redis outage (stale values, then the loader under its
   * limit). See the README's `cached` section for every option and failure.
   */
  cached<T>(key: string, loader: Loader<T>, options: CachedOptions): Promise<T> {
    return this.#cacheAside().cached(key, loader, options);
  }

  /** Removes `key` from the near cache and Redis (a loader call in flight for it still finishes). */
  invalidate(key: string, options?: CommandOptions): Promise<void> {
    return this.#cacheAside().invalidate(key, options);
  }

  /** The cache-aside behind {@link cached}: its `on(event)` and `stats()`. */
  get cache(): CacheAside {
    return this.#cacheAside();
  }

  /** The primary ioredis client (or Cluster), for what this wrapper does not cover. Calls on it bypass the policy. */
  get client(): RedisClient {
    return this.#primary.client;
  }

  /**
   * The value at `key` (`GET`), or `null`. Idempotent unless `idempotent: false`; from a replica with
   * `replica: true` (or `readFrom: 'replica'`).
   * @throws BallastError `BALLAST_INVALID_ARGUMENT` (bad key or options), `BALLAST_DEADLINE_EXCEEDED`,
   *   `BALLAST_CIRCUIT_OPEN`, `BALLAST_SHED`, `BALLAST_NO_HEALTHY_HOST` (not connected),
   *   `BALLAST_RETRY_BUDGET_EXHAUSTED`; or the Redis error (e.g. `WRONGTYPE`).
   */
  get(key: RedisKey, options?: ReadOptions): Promise<string | null> {
    if (!isKey(key)) return Promise.reject(badKey('key', key));
    const node = this.#reader(options);
    if (node === undefined) return Promise.reject(badReplicaOption(options));
    // The hot path: one closure, the send closure only when the connection is not up.
    return node.policy.execute((ctx) => {
      if (!node.ready) return node.whenReady(ctx, () => node.client.get(key));
      node.coalesce();
      return node.client.get(key);
    }, readOptions(options));
  }

  /**
   * Stores `value` at `key` (`SET`, with `PX` for `ttlMs`, `NX` / `XX`). Resolves `true` when stored, `false` when
   * `nx` / `xx` prevented it. Not retried after an ambiguous failure unless `idempotent: true`. With
   * `waitReplicas`, resolves only once that many replicas acknowledged the write.
   * @throws BallastError `BALLAST_INVALID_ARGUMENT` (bad key, value or options); `BALLAST_DEADLINE_EXCEEDED` also
   *   when fewer replicas than `waitReplicas` acknowledged (the write was applied); the others as for `get`.
   */
  set(key: RedisKey, value: RedisValue, options?: SetOptions): Promise<boolean> {
    if (!isKey(key)) return Promise.reject(badKey('key', key));
    const bad = checkValue(value);
    if (bad !== undefined) return Promise.reject(bad);
    const primary = this.#primary;
    if (options === undefined) return this.#run(primary, () => primary.client.set(key, value)).then(isOk);
    let args: (string | number)[];
    let ack: AckRequest | undefined;
    try {
      args = setArguments(options);
      ack = ackRequest(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (ack !== undefined)
      return this.#acked(ack, (p) => p.call('set', key, value, ...args), options).then(isOk);
    return this.#run(primary, () => primary.client.call('set', key, value, ...args), options).then(isOk);
  }

  /**
   * Deletes `keys` (one key or an array; `DEL`) and resolves with how many existed. On a Cluster the keys are
   * deleted one slot at a time. Not idempotent unless the call says so.
   * @throws as {@link BallastRedis.set}.
   */
  del(keys: RedisKey | readonly RedisKey[], options?: WriteOptions): Promise<number> {
    const list = isKey(keys) ? [keys] : keys;
    const bad = checkKeys(list);
    if (bad !== undefined) return Promise.reject(bad);
    if (list.length === 0) return Promise.resolve(0);
    let ack: AckRequest | undefined;
    try {
      ack = ackRequest(options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (ack !== undefined) return this.#acked(ack, (p) => p.del(...list), options) as Promise<number>;
    const primary = this.#primary;
    if (!this.#cluster) return this.#run(primary, () => primary.client.del(...list), options);
    return this.#run(primary, () => delBySlot(primary.client, list), options);
  }

  /**
   * The values at `keys` (`MGET`), `null` where there is none, in the order asked. On a Cluster the keys are read
   * one slot at a time (in parallel, one call to the policy).
   * @throws as {@link BallastRedis.get}.
   */
  mget(keys: readonly RedisKey[], options?: ReadOptions): Promise<(string | null)[]> {
    const bad = checkKeys(keys);
    if (bad !== undefined) return Promise.reject(bad);
    if (keys.length === 0) return Promise.resolve([]);
    const node = this.#reader(options);
    if (node === undefined) return Promise.reject(badReplicaOption(options));
    if (!this.#cluster)
      return this.#run(node, () => node.client.mget(keys as RedisKey[]), readOptions(options));
    return this.#run(node, () => mgetBySlot(node.client, keys), readOptions(options));
  }

  /**
   * Runs `fn` with the ioredis client under the policy: any command, pipeline or transaction. Not idempotent
   * unless the call says so. With `replica: true` it gets a replica's client; with `waitReplicas` a connection of
   * its own, and a `WAIT` after `fn` (standalone only).
   * @throws BallastError as {@link BallastRedis.get}; otherwise what `fn` throws.
   */
  exec<T>(fn: (client: RedisClient) => Promise<T> | T, options?: ExecOptions): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(invalidArgument('argument fn', fn, 'a function'));
    let ack: AckRequest | undefined;
    try {
      ack = ackRequest(options);
      if (ack !== undefined && options?.replica === true)
        throw invalidArgument('option replica', true, 'false with waitReplicas (replicas refuse writes)');
    } catch (error) {
      return Promise.reject(error);
    }
    if (ack !== undefined) {
      const request = ack;
      return this.#withAck(options, async (node, ctx) => {
        const value = await fn(node.client);
        const waitTimeoutMs = ackTimeoutMs(request, ctx);
        checkAck(
          await (node.client as Redis).wait(request.replicas, waitTimeoutMs),
          request,
          waitTimeoutMs,
          this.name,
        );
        return value;
      });
    }
    const node = options?.replica === true ? this.#reader(options) : this.#primary;
    if (node === undefined) return Promise.reject(badReplicaOption(options));
    return this.#run(node, () => fn(node.client), options);
  }

  /** {@link CacheStore.getRaw}: `get`. */
  getRaw(key: string, options?: ReadOptions): Promise<string | null> {
    return this.get(key, options);
  }

  /** {@link CacheStore.setRaw}: `set` with `PX ttlMs`. */
  setRaw(key: string, value: string, ttlMs: number, options?: WriteOptions): Promise<void> {
    return this.set(key, value, options === undefined ? { ttlMs } : { ...options, ttlMs }).then(toVoid);
  }

  /** {@link CacheStore.delRaw}: `del` of one key. */
  delRaw(key: string, options?: WriteOptions): Promise<void> {
    return this.del(key, options).then(toVoid);
  }

  /** Adds a listener; returns a function (also `.dispose()`) that removes it. */
  on<K extends keyof RedisEvents>(event: K, listener: Listener<RedisEvents[K]>): Unsubscribe {
    return this.#events.on(event, listener);
  }

  stats(): RedisStats {
    return {
      name: this.name,
      closed: this.#closed,
      readFrom: this.#o.readFrom,
      nodes: this.#nodes().map((n) => n.stats()),
      counts: { ...this.counts },
      cached: this.#cache?.stats(),
    };
  }

  /**
   * Stops the watchdog and closes the connections Ballast opened: `QUIT` (pending replies still arrive), then
   * after `closeTimeoutMs` the sockets are dropped. A caller's `client` is left open. Calls made afterwards reject
   * with `BALLAST_NO_HEALTHY_HOST`. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.clock.clearTimeout(this.#timer);
    await Promise.all(this.#nodes().map((n) => n.close(this.#o.closeTimeoutMs)));
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs `send` under `node`'s policy. The hot path is one status check; a connection that is not up takes
   * {@link RedisNode.whenReady}.
   */
  #run<T>(
    node: RedisNode,
    send: (ctx: AttemptContext) => Promise<T> | T,
    options?: ExecuteOptions,
  ): Promise<T> {
    return node.policy.execute((ctx) => {
      if (!node.ready) return node.whenReady(ctx, send);
      node.coalesce();
      return send(ctx);
    }, options);
  }

  /** The node a read goes to, or `undefined` when `options.replica` is not a boolean. */
  #reader(options: ReadOptions | undefined): RedisNode | undefined {
    const replica = options?.replica;
    if (replica !== undefined && typeof replica !== 'boolean') return undefined;
    if (this.#replicas.length === 0 || !(replica ?? this.#readReplica)) return this.#primary;
    const n = this.#replicas.length;
    for (let i = 0; i < n; i++) {
      const node = this.#replicas[(this.#nextReplica + i) % n] as RedisNode;
      const state = node.policy.breaker?.state;
      if (node.ready && state !== 'open' && state !== 'isolated') {
        this.#nextReplica = (this.#nextReplica + i + 1) % n;
        return node;
      }
    }
    this.counts.replicaFallbacks++;
    if (this.#events.wants('replica-fallback'))
      this.#events.emit('replica-fallback', { name: this.name, reason: 'no-replica-ready' });
    return this.#primary;
  }

  #acked(
    ack: AckRequest,
    build: (p: ChainableCommander) => void,
    options: WriteOptions | undefined,
  ): Promise<unknown> {
    return this.#withAck(options, (node, ctx) =>
      writeWithAck(node.client as Redis, build, ack, ctx, this.name),
    );
  }

  /**
   * Runs an acknowledged write on the connection kept for them (opened on first use, under the primary's policy):
   * `WAIT` blocks the connection it runs on, and must not hold up every other command.
   */
  #withAck<T>(
    options: WriteOptions | undefined,
    send: (node: RedisNode, ctx: AttemptContext) => Promise<T>,
  ): Promise<T> {
    if (this.#cluster)
      return Promise.reject(
        invalidArgument(
          'option waitReplicas',
          options?.waitReplicas,
          'absent on a Cluster (standalone clients only)',
        ),
      );
    // Never open a connection after close().
    if (this.#closed) return Promise.reject(this.#primary.notConnected('closed'));
    this.#ack ??= ackNode(this.#primary, this.#ctx);
    const node = this.#ack;
    return this.#run(node, (ctx) => send(node, ctx), options);
  }

  #nodes(): RedisNode[] {
    return this.#ack === undefined
      ? [this.#primary, ...this.#replicas]
      : [this.#primary, ...this.#replicas, this.#ack];
  }

  /** The watchdog and health probes: one timer per client, whatever the traffic. */
  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = this.#o.clock.now();
    for (const node of this.#nodes()) {
      node.watch(this.#watchdog, now);
      node.probe(now);
    }
    this.#timer = this.#o.clock.setTimeout(this.#tick, this.#o.healthCheckIntervalMs);
  };
}

function badReplicaOption(options: ReadOptions | undefined): Error {
  return invalidArgument('option replica', options?.replica, 'a boolean');
}

/**
 * Creates a Ballast Redis client: `createRedis({ url })`, `createRedis({ options: { host, port, password } })`,
 * or `createRedis({ client })` around an ioredis `Redis` or `Cluster` the caller owns.
 * @example
 * const redis = createRedis({ url: process.env.REDIS_URL, timeoutMs: 200 });
 * await redis.set('k', 'v', { ttlMs: 60_000 });
 * const v = await redis.get('k', { deadlineMs: 50, priority: 'batch' });
 * @throws BallastError `BALLAST_INVALID_ARGUMENT` naming the first invalid option (credentials masked).
 */
export function createRedis(options: RedisOptions): BallastRedis {
  return new BallastRedis(options);
}
