import { type Channel, channel } from 'node:diagnostics_channel';
import type { HostPoolEvents } from './types.js';

type Listener<T> = (event: T) => void;
type Event = keyof HostPoolEvents;

const EVENTS: readonly Event[] = ['connect', 'connection-error', 'held-too-long', 'cancel'];

// One channel object per event for the process (diagnostics_channel keeps them by name anyway).
const CHANNELS = new Map<Event, Channel>(EVENTS.map((e) => [e, channel(`ballast:pg-pool:${e}`)]));

/**
 * The typed events of one host pool, mirrored to `diagnostics_channel` as `ballast:pg-pool:<event>`. A listener
 * that throws is isolated (reported with `process.emitWarning`). Internal.
 */
export class PoolEvents {
  readonly #listeners = new Map<Event, Listener<never>[]>();

  on<K extends Event>(event: K, listener: Listener<HostPoolEvents[K]>): () => void {
    // Copy on write, so emit can iterate while a listener removes itself.
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener as Listener<never>]);
    return () => {
      const next = (this.#listeners.get(event) ?? []).filter((l) => l !== listener);
      if (next.length === 0) this.#listeners.delete(event);
      else this.#listeners.set(event, next);
    };
  }

  /** True when anyone would receive `event`: check before building a payload. */
  wants(event: Event): boolean {
    return this.#listeners.has(event) || CHANNELS.get(event)?.hasSubscribers === true;
  }

  emit<K extends Event>(event: K, payload: HostPoolEvents[K]): void {
    const list = this.#listeners.get(event);
    if (list !== undefined) {
      for (const l of list) {
        try {
          (l as Listener<HostPoolEvents[K]>)(payload);
        } catch (error) {
          process.emitWarning(
            `ballast: a '${event}' listener threw: ${String(error)}`,
            'BallastListenerError',
          );
        }
      }
    }
    const ch = CHANNELS.get(event);
    if (ch?.hasSubscribers) ch.publish(payload);
  }
}
