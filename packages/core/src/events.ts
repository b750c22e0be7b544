import { type Channel, channel } from 'node:diagnostics_channel';

/** A listener of one event type. */
export type Listener<T> = (event: T) => void;

/** Returned by `on()`: call it (or its `dispose`) to remove the listener. */
export interface Unsubscribe {
  (): void;
  dispose(): void;
}

/**
 * Typed events for one component, mirrored to `diagnostics_channel` as `ballast:<component>:<event>`.
 * Emitting costs one branch when nobody listens: callers check {@link Events.wants} before building a payload.
 * A listener that throws is isolated: the error is reported with `process.emitWarning`, the others still run.
 * Exported for driver packages (`@ballast/pg`, `@ballast/redis`), which publish their own components' events.
 */
export class Events<M extends object> {
  readonly #component: string;
  readonly #listeners = new Map<keyof M, Listener<never>[]>();
  readonly #channels = new Map<keyof M, Channel>();

  constructor(component: string) {
    this.#component = component;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(event: K, listener: Listener<M[K]>): Unsubscribe {
    const list = this.#listeners.get(event) ?? [];
    // Copy on write, so emit can iterate without guarding against removal mid-loop.
    this.#listeners.set(event, [...list, listener as Listener<never>]);
    const off = (() => {
      const current = this.#listeners.get(event);
      if (current === undefined) return;
      const next = current.filter((l) => l !== listener);
      if (next.length === 0) this.#listeners.delete(event);
      else this.#listeners.set(event, next);
    }) as Unsubscribe;
    off.dispose = off;
    return off;
  }

  /** True when a listener or a diagnostics_channel subscriber would receive `event`. */
  wants(event: keyof M): boolean {
    return this.#listeners.has(event) || this.#channel(event).hasSubscribers;
  }

  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const list = this.#listeners.get(event);
    if (list !== undefined) {
      for (const l of list) {
        try {
          (l as Listener<M[K]>)(payload);
        } catch (error) {
          process.emitWarning(
            `ballast: a '${String(event)}' listener threw: ${String(error)}`,
            'BallastListenerError',
          );
        }
      }
    }
    const ch = this.#channel(event);
    if (ch.hasSubscribers) ch.publish(payload);
  }

  #channel(event: keyof M): Channel {
    let ch = this.#channels.get(event);
    if (ch === undefined) {
      ch = channel(`ballast:${this.#component}:${String(event)}`);
      this.#channels.set(event, ch);
    }
    return ch;
  }
}
