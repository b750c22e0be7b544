import { createServer, type Server, type Socket } from 'node:net';
import { bind, type Connection, openConnection, reset } from './fault-proxy-connection.js';
import {
  type Faults,
  invalidArgument,
  NO_FAULTS,
  type ResolvedFaults,
  resolveFaults,
  sameDirection,
} from './fault-proxy-faults.js';
import { LOOPBACK } from './ports.js';

export type { DirectionFaults, Faults } from './fault-proxy-faults.js';

/** Options of {@link FaultProxy}. */
export interface FaultProxyOptions {
  /** Port of the server the proxy forwards to. */
  port: number;
  /**
   * Host of the server the proxy forwards to.
   * @default '127.0.0.1'
   */
  host?: string | undefined;
  /**
   * Port the proxy listens on (always on 127.0.0.1); `0` lets the OS choose a free one.
   * @default 0
   */
  listenPort?: number | undefined;
}

/** Defaults of {@link FaultProxyOptions}. */
export const DEFAULT_FAULT_PROXY_OPTIONS = Object.freeze({ host: LOOPBACK, listenPort: 0 });

/** Counters since the proxy was created. */
export interface FaultProxyStats {
  /** Connections accepted, including those reset at once by the `reset` fault. */
  readonly connectionsAccepted: number;
  /** Connections open now (client side or server side still open). */
  readonly connectionsActive: number;
  /** Connections the `reset` fault reset, live or new. */
  readonly connectionsReset: number;
  /** Bytes forwarded client → server (dropped bytes not counted). */
  readonly bytesUpstream: number;
  /** Bytes forwarded server → client (dropped bytes not counted). */
  readonly bytesDownstream: number;
}

function portOption(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 65_535) {
    throw invalidArgument(`FaultProxy: options.${name}`, `a whole number in [${min}, 65535]`, value);
  }
  return value;
}

/**
 * A TCP proxy on loopback that injects network faults between a client and a server: latency with jitter,
 * bandwidth limits, blackholes, resets and refused connections, in both directions or per direction. Faults
 * apply to live connections the moment they are set. A blackholed connection still connects upstream (so it
 * works again, minus the dropped bytes, once the blackhole lifts); the server sees the connection, the client
 * sees silence. Errors on one connection never reach the proxy, and after `close()` nothing of it keeps the
 * process alive.
 * @example
 * const proxy = new FaultProxy({ port: redis.port });
 * const port = await proxy.listen();
 * const client = new Redis({ port, password: redis.password });
 * proxy.set({ latencyMs: 50, jitterMs: 10 });          // both directions
 * proxy.set({ downstream: { blackhole: true } });      // replies vanish; replaces the latency
 * await proxy.set({ refuse: true });                   // ECONNREFUSED for new connections
 * await proxy.clear();
 * await proxy.close();
 */
export class FaultProxy {
  private readonly targetPort: number;
  private readonly targetHost: string;
  private readonly listenPort: number;
  private faults: ResolvedFaults = NO_FAULTS;
  private server: Server | undefined;
  private boundPort: number | undefined;
  private listening: Promise<number> | undefined;
  private closing: Promise<void> | undefined;
  private listenerOp: Promise<void> = Promise.resolve();
  private readonly connections = new Set<Connection>();
  private readonly counters = {
    connectionsAccepted: 0,
    connectionsReset: 0,
    bytesUpstream: 0,
    bytesDownstream: 0,
  };

  /**
   * Creates the proxy; nothing listens until {@link FaultProxy.listen}.
   * @throws {Error} with code `BALLAST_INVALID_ARGUMENT` when a port is not a whole number in range.
   * @example
   * const proxy = new FaultProxy({ port: 5432, listenPort: 15432 });
   */
  constructor(options: FaultProxyOptions) {
    this.targetPort = portOption('port', options.port, 1);
    this.targetHost = options.host ?? DEFAULT_FAULT_PROXY_OPTIONS.host;
    this.listenPort = portOption(
      'listenPort',
      options.listenPort ?? DEFAULT_FAULT_PROXY_OPTIONS.listenPort,
      0,
    );
  }

  /**
   * The port the proxy listens on (kept across `refuse`).
   * @throws {Error} before {@link FaultProxy.listen} has resolved.
   * @example
   * const url = `postgres://u:p@127.0.0.1:${proxy.port}/db`;
   */
  get port(): number {
    if (this.boundPort === undefined)
      throw new Error('FaultProxy: call await proxy.listen() before reading port');
    return this.boundPort;
  }

  /**
   * Starts listening on 127.0.0.1 and resolves with the port. Calling it again returns the same port.
   * @throws {Error} when the port cannot be bound (`code` kept, e.g. `EADDRINUSE` for a fixed `listenPort`), or
   * after close().
   * @example
   * const port = await proxy.listen();
   */
  listen(): Promise<number> {
    if (this.closing) return Promise.reject(new Error('FaultProxy: listen() after close()'));
    this.listening ??= (async () => {
      const server = this.createListener();
      this.server = server;
      try {
        await bind(server, this.listenPort, 1);
      } catch (error) {
        // Let a later listen() try again.
        this.server = undefined;
        this.listening = undefined;
        throw error;
      }
      const address = server.address();
      this.boundPort = typeof address === 'object' && address !== null ? address.port : this.listenPort;
      // A `refuse` set before listen() takes effect now that the port is known.
      await this.syncListener();
      return this.boundPort;
    })();
    return this.listening;
  }

  /**
   * Replaces the current faults with `faults` (a field left out is off) and applies them to live connections at
   * once. Resolves when the listener follows `refuse` (closed, or listening again on the same port); every
   * other fault is in effect before this returns, so awaiting matters only for `refuse`.
   * @throws {Error} synchronously, with code `BALLAST_INVALID_ARGUMENT`, for an invalid fault; the promise
   * rejects when the port cannot be bound again after `refuse` is turned off.
   * @example
   * proxy.set({ latencyMs: 100, upstream: { bandwidthBytesPerSec: 64_000 } });
   */
  set(faults: Faults): Promise<void> {
    const next = resolveFaults(faults);
    const previous = this.faults;
    this.faults = next;
    if (next.reset) for (const connection of this.connections) this.reset(connection);
    for (const { pipes } of this.connections) {
      if (!sameDirection(previous.upstream, next.upstream)) pipes[0].refault();
      if (!sameDirection(previous.downstream, next.downstream)) pipes[1].refault();
    }
    return this.enqueueListenerSync();
  }

  /**
   * Removes every fault: `set({})`.
   * @throws {Error} never synchronously; the promise rejects as {@link FaultProxy.set}'s does.
   * @example
   * await proxy.clear();
   */
  clear(): Promise<void> {
    return this.set({});
  }

  /**
   * A snapshot of the counters.
   * @throws never
   * @example
   * expect(proxy.stats().connectionsActive).toBe(0);
   */
  stats(): FaultProxyStats {
    return { ...this.counters, connectionsActive: this.connections.size };
  }

  /**
   * Stops listening and destroys every connection. Idempotent; the proxy cannot listen again.
   * @throws never
   * @example
   * afterEach(() => proxy.close());
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const { client, upstream, pipes } of this.connections) {
        for (const pipe of pipes) pipe.dispose();
        client.destroy();
        upstream.destroy();
      }
      await this.listening?.catch(() => undefined);
      await this.enqueueListenerSync().catch(() => undefined);
    })();
    return this.closing;
  }

  private reset(connection: Connection): void {
    this.counters.connectionsReset += 1;
    for (const pipe of connection.pipes) pipe.dispose();
    reset(connection.client);
    reset(connection.upstream);
  }

  private enqueueListenerSync(): Promise<void> {
    const op = this.listenerOp.catch(() => undefined).then(() => this.syncListener());
    this.listenerOp = op;
    return op;
  }

  /** Makes the listener match the state: listening unless closed or refusing. */
  private async syncListener(): Promise<void> {
    if (this.boundPort === undefined) return; // listen() has not bound yet; it calls this when it has
    const wanted = this.closing === undefined && !this.faults.refuse;
    if (!wanted) {
      const server = this.server;
      this.server = undefined;
      if (server === undefined) return;
      // Closing the handle refuses new connections at once; the callback would wait for live connections,
      // which `refuse` keeps, so only close() awaits it (having destroyed them).
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (this.closing) await closed;
      return;
    }
    if (this.server !== undefined) return;
    const server = this.createListener();
    this.server = server;
    try {
      await bind(server, this.boundPort, 20);
    } catch (error) {
      if (this.server === server) this.server = undefined;
      throw error;
    }
  }

  private createListener(): Server {
    const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    // After listening, a server error (EMFILE on accept) must not crash the process; the next accept may work.
    server.on('error', () => undefined);
    return server;
  }

  private accept(client: Socket): void {
    this.counters.connectionsAccepted += 1;
    client.on('error', () => undefined);
    if (this.closing) {
      client.destroy();
      return;
    }
    if (this.faults.reset) {
      this.counters.connectionsReset += 1;
      reset(client);
      return;
    }
    const connection = openConnection(client, {
      port: this.targetPort,
      host: this.targetHost,
      faults: () => this.faults,
      onForwarded: (direction, bytes) => {
        if (direction === 'upstream') this.counters.bytesUpstream += bytes;
        else this.counters.bytesDownstream += bytes;
      },
      onClosed: () => this.connections.delete(connection),
    });
    this.connections.add(connection);
  }
}
