import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ResolvedDirection } from './fault-proxy-faults.js';

/** Bytes held for later release above which the source is paused (TCP flow control, in effect). */
const HIGH_WATER_BYTES = 1 << 20;
/** Bandwidth pacing releases slices of this many milliseconds' worth of bytes. */
const SLICE_MS = 10;

interface Held {
  readonly chunk: Buffer;
  readonly arrival: number;
  /** Drawn once, so re-timing after a fault change keeps this chunk's share of the jitter. */
  readonly jitterFraction: number;
  releaseAt: number;
}

/**
 * One direction of a proxied connection: reads `source`, writes `dest`, applying the faults `faults()` returns
 * at the moment each chunk arrives. Internal to {@link FaultProxy}.
 */
export class Pipe {
  private held: Held[] = [];
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastRelease = 0;
  private linkFree = 0;
  private ended = false;
  private awaitingDrain = false;
  private paused = false;
  private disposed = false;

  constructor(
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly faults: () => ResolvedDirection,
    private readonly onForwarded: (bytes: number) => void,
  ) {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.ended = true;
      this.arm();
    });
    dest.on('drain', () => {
      this.awaitingDrain = false;
      this.flow();
    });
  }

  /** The faults changed: re-time what is held under the new ones, or drop it into a blackhole. */
  refault(): void {
    if (this.disposed) return;
    const f = this.faults();
    if (f.blackhole) {
      this.held = [];
      this.heldBytes = 0;
    } else {
      const now = performance.now();
      this.lastRelease = now;
      this.linkFree = now;
      for (const h of this.held) this.time(h, f);
    }
    this.flow();
    this.arm();
  }

  /** Stops timers and drops what is held; the sockets are the connection's to destroy. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held = [];
    this.heldBytes = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.disposed) return;
    const f = this.faults();
    if (f.blackhole) return;
    const delayed = f.latencyMs > 0 || f.jitterMs > 0 || f.bandwidthBytesPerSec !== undefined;
    if (!delayed && this.held.length === 0) {
      this.write(chunk);
      return;
    }
    const arrival = performance.now();
    const jitterFraction = Math.random();
    const slice =
      f.bandwidthBytesPerSec === undefined
        ? chunk.length
        : Math.max(1, Math.ceil((f.bandwidthBytesPerSec * SLICE_MS) / 1000));
    for (let at = 0; at < chunk.length; at += slice) {
      const held: Held = { chunk: chunk.subarray(at, at + slice), arrival, jitterFraction, releaseAt: 0 };
      this.time(held, f);
      this.held.push(held);
      this.heldBytes += held.chunk.length;
    }
    this.flow();
    this.arm();
  }

  /** Release time: after the link has carried it (bandwidth), plus latency and jitter, never before the previous. */
  private time(h: Held, f: ResolvedDirection): void {
    let sent = h.arrival;
    if (f.bandwidthBytesPerSec !== undefined) {
      this.linkFree = Math.max(this.linkFree, h.arrival) + (h.chunk.length * 1000) / f.bandwidthBytesPerSec;
      sent = this.linkFree;
    }
    h.releaseAt = Math.max(this.lastRelease, sent + f.latencyMs + h.jitterFraction * f.jitterMs);
    this.lastRelease = h.releaseAt;
  }

  private arm(): void {
    if (this.disposed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const head = this.held[0];
    if (head === undefined) {
      // The end travels behind the data and, like the data, not through a blackhole.
      if (this.ended && !this.faults().blackhole && !this.dest.writableEnded && !this.dest.destroyed)
        this.dest.end();
      return;
    }
    const wait = head.releaseAt - performance.now();
    if (wait <= 1) this.release();
    else this.timer = setTimeout(() => this.release(), wait);
  }

  private release(): void {
    this.timer = undefined;
    // Timers round to whole milliseconds: release what is due within one, rather than spin on 0 ms timeouts.
    const due = performance.now() + 1;
    while (this.held[0] !== undefined && this.held[0].releaseAt <= due) {
      const h = this.held.shift() as Held;
      this.heldBytes -= h.chunk.length;
      this.write(h.chunk);
    }
    this.flow();
    this.arm();
  }

  private write(chunk: Buffer): void {
    if (this.dest.destroyed || this.dest.writableEnded) return;
    this.onForwarded(chunk.length);
    if (!this.dest.write(chunk)) {
      this.awaitingDrain = true;
      this.flow();
    }
  }

  /** Pause the source while too much is held or the destination is full; resume once neither is true. */
  private flow(): void {
    const pause = !this.disposed && (this.awaitingDrain || this.heldBytes > HIGH_WATER_BYTES);
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.source.pause();
    else this.source.resume();
  }
}
