import type { Clock, TimerHandle } from '@ballast/core';
import pg from 'pg';
import { checkHealth } from './health.js';
import type { HostHealth } from './types.js';

/**
 * The health-check connection of one host: separate from the pool, so a saturated or draining pool never hides
 * the host's state. A check that does not answer within `timeoutMs` fails and its connection is dropped (the
 * next check reconnects), so a blackholed host is known to be down within one timeout.
 */
export class HealthProbe {
  #client: pg.Client | undefined;
  #connecting: Promise<pg.Client> | undefined;

  constructor(
    readonly connectionString: string,
    readonly clock: Clock,
    readonly timeoutMs: number,
  ) {}

  /** One health check; rejects on error or timeout. `previous` fills the timeline a standby cannot report. */
  async check(previous?: HostHealth): Promise<HostHealth> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(
        () => reject(new Error(`health check timed out after ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#check(previous), timeout]);
    } catch (error) {
      this.#drop();
      throw error;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  async #check(previous: HostHealth | undefined): Promise<HostHealth> {
    const client = await this.#connect();
    return checkHealth(client, this.clock.now(), previous);
  }

  #connect(): Promise<pg.Client> {
    if (this.#client !== undefined) return Promise.resolve(this.#client);
    this.#connecting ??= (async () => {
      const client = new pg.Client({
        connectionString: this.connectionString,
        connectionTimeoutMillis: this.timeoutMs,
        keepAlive: true,
        application_name: 'ballast-health',
      });
      // An idle error on the probe's connection must never crash the process: drop it, reconnect next time.
      client.on('error', () => this.#drop());
      try {
        await client.connect();
      } catch (error) {
        client.end().catch(() => {});
        throw error;
      } finally {
        this.#connecting = undefined;
      }
      this.#client = client;
      return client;
    })();
    return this.#connecting;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    // A hung socket never answers `end()`: destroy the stream under it.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => {});
  }

  close(): void {
    this.#drop();
  }
}
