import type { AttemptContext, CircuitBreaker, Clock, Events, Policy, PolicyStats } from '@ballast/core';
import type { Redis } from 'ioredis';
import type { NodeRole, RedisEvents } from './events.js';
import { redactError } from './mask.js';
import type { RedisClient } from './options.js';
import { notConnectedError } from './redis-errors.js';
import type { StallWatchdog } from './stall-watchdog.js';

/** What every connection of one client shares. */
export interface NodeContext {
  readonly name: string;
  readonly events: Events<RedisEvents>;
  readonly clock: Clock;
  readonly secrets: readonly string[];
  readonly maxConnectWaiters: number;
  readonly healthCheckTimeoutMs: number;
  /** Cork each connection's socket for the rest of the tick when a command is sent (see `coalesceWrites`). */
  readonly coalesceWrites: boolean;
}

/** Counters of one connection since the client was created. */
export interface NodeCounts {
  /** Times the connection became ready (the first connect included). */
  ready: number;
  reconnects: number;
  connectionErrors: number;
  /** Connections the watchdog closed because they answered nothing while commands waited. */
  stalls: number;
  /** `READONLY` replies that reopened the connection. */
  readonly: number;
  /** Calls failed at once with `BALLAST_NO_HEALTHY_HOST` because the connection was not up. */
  notConnected: number;
}

/** What {@link RedisNode.stats} returns. */
export interface NodeStats {
  node: string;
  role: NodeRole;
  /** ioredis' status of the connection (`ready`, `reconnecting`, …). */
  status: string;
  /** Calls waiting for a connection attempt in progress. */
  waiters: number;
  counts: NodeCounts;
  policy: PolicyStats;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

const noop = (): void => {};

/** ioredis statuses in which a connection attempt is under way: a call may wait for its outcome. */
const CONNECTING: ReadonlySet<string> = new Set(['wait', 'connecting', 'connect']);

/**
 * One ioredis connection (a standalone `Redis`, or a whole `Cluster`) and the policy its calls run under: its
 * readiness, the bounded wait for a connection attempt, its events, the health `PING` that lets an open breaker
 * recover as soon as Redis answers, and the watchdog's view of its sockets.
 */
export class RedisNode {
  readonly counts: NodeCounts = {
    ready: 0,
    reconnects: 0,
    connectionErrors: 0,
    stalls: 0,
    readonly: 0,
    notConnected: 0,
  };
  /** Calls waiting for the connection attempt in progress. */
  waiters = 0;
  /** The last connection error, credentials masked. */
  lastError: Error | undefined = undefined;
  closed = false;
  #reconnectAt = 0;
  #nextReady: Deferred | undefined = undefined;
  #probing = false;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #breaker: Partial<CircuitBreaker> | undefined;

  constructor(
    readonly client: RedisClient,
    readonly policy: Policy,
    readonly role: NodeRole,
    readonly address: string,
    /** Ballast created the client, so it configures and closes it. */
    readonly owned: boolean,
    readonly ctx: NodeContext,
  ) {
    this.#breaker = policy.breaker as Partial<CircuitBreaker> | undefined;
    this.#listen('ready', () => this.#onReady());
    this.#listen('error', (error: unknown) => this.#onError(error, this.address));
    this.#listen('node error', (error: unknown, node: unknown) =>
      this.#onError(error, typeof node === 'string' ? node : this.address),
    );
    this.#listen('close', () => this.#settleWaiters());
    this.#listen('end', () => this.#settleWaiters());
    this.#listen('reconnecting', (delay: unknown) => {
      const delayMs = typeof delay === 'number' ? delay : 0;
      this.#reconnectAt = ctx.clock.now() + delayMs;
      this.counts.reconnects++;
      this.#emit('reconnecting', { ...this.#who(), delayMs });
    });
    const off = this.#breaker?.on?.('state-change', (e) => {
      if (ctx.events.wants('breaker-state-change'))
        ctx.events.emit('breaker-state-change', { ...this.#who(), from: e.from, to: e.to, reason: e.reason });
    });
    if (off !== undefined) this.#unsubscribe.push(off);
  }

  #corked: { uncork(): void } | undefined = undefined;
  readonly #uncork = (): void => {
    const stream = this.#corked;
    this.#corked = undefined;
    stream?.uncork();
  };

  /**
   * Holds this tick's writes to the socket and sends them in one write when the tick's callbacks are done: the
   * calls that answers set off in one burst go out together (one syscall where ioredis made one per command).
   */
  coalesce(): void {
    if (this.#corked !== undefined || !this.ctx.coalesceWrites) return;
    const stream = (this.client as { stream?: { cork?(): void; uncork(): void } }).stream;
    if (stream?.cork === undefined) return;
    stream.cork();
    this.#corked = stream;
    process.nextTick(this.#uncork);
  }

  /** The connection is up (ioredis `ready`) and this client was not closed. */
  get ready(): boolean {
    return this.client.status === 'ready' && !this.closed;
  }

  /**
   * The slow path of a call whose connection is not ready: waits (within the call's deadline, and with at most
   * `maxConnectWaiters` others) for a connection attempt under way, then sends; fails at once with
   * `BALLAST_NO_HEALTHY_HOST` when no attempt is under way or too many wait.
   */
  whenReady<T>(ctx: AttemptContext, send: (ctx: AttemptContext) => Promise<T> | T): Promise<T> {
    const status = this.client.status;
    if (this.closed) return Promise.reject(this.notConnected('closed'));
    if (status === 'ready') return Promise.resolve(send(ctx));
    if (!CONNECTING.has(status) || this.waiters >= this.ctx.maxConnectWaiters)
      return Promise.reject(this.notConnected(status));
    if (status === 'wait') this.client.connect().catch(noop);
    this.waiters++;
    return this.#readySoon().then(
      () => {
        this.waiters--;
        // The call's deadline may have passed while it waited: it must not be sent after its caller gave up.
        if (ctx.endSignal.aborted) throw ctx.endSignal.reason;
        return send(ctx);
      },
      () => {
        this.waiters--;
        throw this.notConnected(this.client.status);
      },
    );
  }

  /** `BALLAST_NO_HEALTHY_HOST` for a call that found the connection down; counts it. */
  notConnected(status: string): Error {
    this.counts.notConnected++;
    const retryAfterMs =
      status === 'reconnecting' ? Math.max(0, this.#reconnectAt - this.ctx.clock.now()) : undefined;
    return notConnectedError(this.ctx.name, this.address, status, this.lastError, retryAfterMs);
  }

  /** The sockets the watchdog looks at: the connection itself, or every node of a Cluster. */
  connections(): Redis[] {
    if (this.client.isCluster) return (this.client as { nodes(role: 'all'): Redis[] }).nodes('all');
    return [this.client as Redis];
  }

  /**
   * One watchdog round: closes every socket of this node whose oldest pending command had no reply for the
   * watchdog's timeout. Its commands then fail and ioredis reconnects; the socket's error reaches the breaker as
   * a failed health check through the `error` event.
   */
  watch(watchdog: StallWatchdog, nowMs: number): void {
    for (const connection of this.connections()) {
      const silentMs = watchdog.check(connection, nowMs);
      if (silentMs === 0) continue;
      watchdog.forget(connection);
      this.counts.stalls++;
      const pending = connection.commandQueue.length;
      const node = `${connection.options.host ?? 'localhost'}:${connection.options.port ?? 6379}`;
      this.#emit('stall', { name: this.ctx.name, node, role: this.role, silentMs, pending });
      // destroy, not end: a half-close waits for the peer's FIN, which a silent network never sends.
      connection.stream?.destroy(
        new Error(
          `Redis at ${node} answered nothing for ${Math.round(silentMs)} ms (${pending} commands pending)`,
        ),
      );
    }
  }

  /**
   * While the breaker is open and the connection is up, a `PING` answered within `healthCheckTimeoutMs` moves
   * the breaker to half-open at once, so recovery does not wait out a long open duration. One at a time.
   */
  probe(nowMs: number): void {
    const breaker = this.#breaker;
    if (breaker?.recordHealthCheck === undefined || breaker.state !== 'open') return;
    if (this.#probing || !this.ready) return;
    this.#probing = true;
    const clock = this.ctx.clock;
    this.client.ping().then(
      () => {
        this.#probing = false;
        if (clock.now() - nowMs <= this.ctx.healthCheckTimeoutMs) breaker.recordHealthCheck?.(true);
      },
      () => {
        this.#probing = false;
        breaker.recordHealthCheck?.(false);
      },
    );
  }

  stats(): NodeStats {
    return {
      node: this.address,
      role: this.role,
      status: this.closed ? 'closed' : this.client.status,
      waiters: this.waiters,
      counts: { ...this.counts },
      policy: this.policy.stats(),
    };
  }

  /** Runs `cleanup` when the node closes. */
  whenClosed(cleanup: () => void): void {
    this.#unsubscribe.push(cleanup);
  }

  /** Counts a `READONLY` reply (ioredis reopens the connection) and reports it. */
  onReadOnly(): void {
    this.counts.readonly++;
    this.#emit('readonly', this.#who());
  }

  /**
   * Stops listening; a client Ballast created is closed: `QUIT` (pending replies arrive first), then after
   * `graceMs` the socket is dropped whatever happened.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#settleWaiters();
    if (!this.owned) return;
    const client = this.client;
    // Our listeners are gone: a socket error during QUIT must not become ioredis's "Unhandled error event".
    client.on('error', noop);
    if (client.status === 'ready') {
      let timer: unknown;
      await Promise.race([
        client.quit().catch(noop),
        new Promise<void>((resolve) => {
          timer = this.ctx.clock.setTimeout(resolve, graceMs);
        }),
      ]);
      this.ctx.clock.clearTimeout(timer);
    }
    client.disconnect();
  }

  #who(): { name: string; node: string; role: NodeRole } {
    return { name: this.ctx.name, node: this.address, role: this.role };
  }

  #emit<K extends keyof RedisEvents>(event: K, payload: RedisEvents[K]): void {
    if (this.ctx.events.wants(event)) this.ctx.events.emit(event, payload);
  }

  #listen(event: string, listener: (...args: never[]) => void): void {
    const client = this.client as unknown as {
      on(e: string, l: (...args: never[]) => void): void;
      off(e: string, l: (...args: never[]) => void): void;
    };
    client.on(event, listener);
    this.#unsubscribe.push(() => client.off(event, listener));
  }

  #onReady(): void {
    this.counts.ready++;
    const waiting = this.#nextReady;
    this.#nextReady = undefined;
    waiting?.resolve();
    // Redis answered a handshake and a ready check: an open breaker may try again now.
    if (this.#breaker?.state === 'open') this.#breaker.recordHealthCheck?.(true);
    this.#emit('ready', this.#who());
  }

  #onError(error: unknown, node: string): void {
    const masked = redactError(error, this.ctx.secrets);
    this.lastError = masked;
    this.counts.connectionErrors++;
    this.#breaker?.recordHealthCheck?.(false);
    const code = (masked as { code?: unknown }).code;
    this.#emit('connection-error', {
      name: this.ctx.name,
      node,
      role: this.role,
      error: masked,
      code: typeof code === 'string' ? code : undefined,
    });
  }

  #readySoon(): Promise<void> {
    if (this.#nextReady === undefined) {
      let resolve = noop;
      let reject: (error: unknown) => void = noop;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#nextReady = { promise, resolve, reject };
    }
    return this.#nextReady.promise;
  }

  #settleWaiters(): void {
    const waiting = this.#nextReady;
    this.#nextReady = undefined;
    waiting?.reject(this.lastError);
  }
}
