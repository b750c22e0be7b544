/**
 * An in-process stand-in for a database under load, driven by real timers.
 * Up to `concurrency` requests are served in `serviceMs` each; beyond that every new request is slowed in
 * proportion (service time = serviceMs × max(1, inflight / concurrency)), so throughput stays at
 * concurrency / serviceMs while latency grows with the backlog — like a server whose CPUs are saturated.
 */

export interface SimServerOptions {
  /** Requests served at full speed at once. @default 10 */
  concurrency?: number | undefined;
  /** Service time of one request at or below `concurrency` in flight. @default 10 */
  serviceMs?: number | undefined;
}

/** Thrown to requests still in service when the server is stopped. */
export class ServerStoppedError extends Error {
  override name = 'ServerStoppedError';
}

interface Pending {
  timer: NodeJS.Timeout;
  reject: (error: Error) => void;
}

export class SimServer {
  readonly concurrency: number;
  readonly serviceMs: number;
  inflight = 0;
  /** Requests that started service. */
  started = 0;
  /** Requests that finished service (whether or not the caller still wanted the answer). */
  completed = 0;
  /** Highest in-flight count seen. */
  peakInflight = 0;
  /** `performance.now()` at which the last accepted request will finish: when the backlog clears. */
  busyUntil = 0;
  readonly #pending = new Set<Pending>();
  #stopped = false;

  constructor(options: SimServerOptions = {}) {
    this.concurrency = options.concurrency ?? 10;
    this.serviceMs = options.serviceMs ?? 10;
  }

  /** Nominal capacity in requests per second. */
  get capacityPerSec(): number {
    return (this.concurrency / this.serviceMs) * 1000;
  }

  /**
   * Serves one request. A request whose signal is already aborted is refused without using the server;
   * once in service it runs to completion (the work is not cancellable), as a statement without server-side cancel.
   */
  serve(signal?: AbortSignal): Promise<void> {
    if (this.#stopped) return Promise.reject(new ServerStoppedError('server stopped'));
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    this.inflight++;
    this.started++;
    if (this.inflight > this.peakInflight) this.peakInflight = this.inflight;
    const ms = this.serviceMs * Math.max(1, this.inflight / this.concurrency);
    this.busyUntil = Math.max(this.busyUntil, performance.now() + ms);
    return new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        timer: setTimeout(() => {
          this.#pending.delete(entry);
          this.inflight--;
          this.completed++;
          resolve();
        }, ms),
        reject,
      };
      this.#pending.add(entry);
    });
  }

  /** Stops the server: requests still in service fail with {@link ServerStoppedError}, new ones are refused. */
  stop(): void {
    this.#stopped = true;
    for (const entry of this.#pending) {
      clearTimeout(entry.timer);
      entry.reject(new ServerStoppedError('server stopped'));
    }
    this.#pending.clear();
    this.inflight = 0;
  }
}
