import type { Clock, TimerHandle } from '@ballast/core';
import pg from 'pg';
import { checkHealth } from './health.js';
import type { HostHealth } from './types.js';

/** A health check that could not run because the probe's connection is still being opened: it says nothing. */
export class ProbeConnecting extends Error {
  constructor() {
    super('health probe still connecting');
    this.name = 'ProbeConnecting';
  }
}

/** Connection attempts a probe keeps in flight at once (a stalled one must not hide a host that came back). */
const MAX_ATTEMPTS = 3;

/**
 * How many check timeouts a probe may spend opening its connection before its checks fail instead of being
 * inconclusive: enough for the handshake's round trips on a slow link, bounded so that an outage that starts
 * while the probe reconnects (after a timed-out check under load, say) is still noticed within ~1.6 s by default.
 */
const CONNECT_ALLOWANCE = 4;

/**
 * The health-check connection of one host: separate from the pool, so a saturated or draining pool never hides
 * the host's state.
 *
 * - On an open connection, a check that does not answer within `timeoutMs` fails and the connection is dropped:
 *   a blackholed host is known to be down within one timeout.
 * - Opening a connection takes several round trips (TCP, startup, SCRAM), more than a check's timeout on a slow
 *   link, so it is not timed by the check: while it is in progress a check is inconclusive ({@link
 *   ProbeConnecting}) — for at most 4 check timeouts, after which checks fail until a connection opens. Every
 *   check starts another attempt while none has finished (at most 3 at once, each up to
 *   `connectTimeoutMs`), so an attempt stalled by an outage does not delay noticing the host's return.
 */
export class HealthProbe {
  #client: pg.Client | undefined;
  readonly #attempts = new Set<Promise<pg.Client>>();
  /** The clients of the attempts in flight, oldest first, so the oldest can be abandoned. */
  readonly #opening: pg.Client[] = [];
  /** When the probe started (re)connecting without a connection; undefined while it has one. */
  #connectingSince: number | undefined = undefined;

  constructor(
    readonly connectionString: string,
    readonly clock: Clock,
    readonly timeoutMs: number,
    readonly connectTimeoutMs: number,
  ) {}

  /** One health check; rejects on error or timeout, or with {@link ProbeConnecting}. */
  async check(previous?: HostHealth): Promise<HostHealth> {
    const client = this.#client ?? (await this.#connected());
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(
        () => reject(new Error(`health check timed out after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([checkHealth(client, this.clock.now(), previous), timeout]);
    } catch (error) {
      this.#drop();
      throw error;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** Waits up to one check timeout for any connection attempt; starts another one first. */
  async #connected(): Promise<pg.Client> {
    // A new attempt every check while none has finished; past the cap, the oldest (likely stalled) is abandoned.
    if (this.#opening.length >= MAX_ATTEMPTS) destroy(this.#opening.shift() as pg.Client);
    this.#attempt();
    if (this.#connectingSince === undefined) this.#connectingSince = this.clock.now();
    const since = this.#connectingSince;
    let timer: TimerHandle | undefined;
    const wait = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const openingMs = this.clock.now() - since;
        reject(
          openingMs < CONNECT_ALLOWANCE * this.timeoutMs
            ? new ProbeConnecting()
            : new Error(`health check: no connection after ${Math.round(openingMs)} ms`),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([...this.#attempts, wait]);
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  #attempt(): void {
    const client = new pg.Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: this.connectTimeoutMs,
      keepAlive: true,
      application_name: 'ballast-health',
    });
    // An error on the probe's connection must never crash the process: drop it, reconnect next time.
    client.on('error', () => {
      if (this.#client === client) this.#drop();
    });
    this.#opening.push(client);
    const settled = (): void => {
      this.#attempts.delete(attempt);
      const i = this.#opening.indexOf(client);
      if (i >= 0) this.#opening.splice(i, 1);
    };
    const attempt: Promise<pg.Client> = client.connect().then(
      () => {
        settled();
        this.#connectingSince = undefined;
        if (this.#client === undefined) this.#client = client;
        else client.end().catch(() => {}); // another attempt won
        return client;
      },
      (error: unknown) => {
        settled();
        client.end().catch(() => {});
        throw error;
      },
    );
    // Rejections are seen by whichever check races it; never unhandled.
    attempt.catch(() => {});
    this.#attempts.add(attempt);
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) destroy(client);
  }

  close(): void {
    this.#drop();
    for (const c of this.#opening.splice(0)) destroy(c);
  }
}

/** A hung socket never answers `end()`: destroy the stream under the client too. */
function destroy(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  client.end().catch(() => {});
}
