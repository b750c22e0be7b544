/**
 * A growable ring buffer with O(1) push/pop at both ends: the per-priority wait queue (FIFO from the front,
 * LIFO from the back) without `Array#shift`. Internal.
 */
export class RingDeque<T> {
  #buf: (T | undefined)[];
  #head = 0;
  #size = 0;

  constructor(capacity = 16) {
    this.#buf = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#size;
  }

  pushBack(item: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) % this.#buf.length] = item;
    this.#size++;
  }

  peekFront(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  peekBack(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[(this.#head + this.#size - 1) % this.#buf.length];
  }

  popFront(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#buf.length;
    this.#size--;
    return item;
  }

  popBack(): T | undefined {
    if (this.#size === 0) return undefined;
    const i = (this.#head + this.#size - 1) % this.#buf.length;
    const item = this.#buf[i];
    this.#buf[i] = undefined;
    this.#size--;
    return item;
  }

  /** Drops every item. */
  clear(): void {
    if (this.#size === 0) return;
    this.#buf = new Array<T | undefined>(16);
    this.#head = 0;
    this.#size = 0;
  }

  /** Keeps only the items for which `keep` is true, in order. O(n). */
  retain(keep: (item: T) => boolean): void {
    const items: T[] = [];
    for (let i = 0; i < this.#size; i++) {
      const item = this.#buf[(this.#head + i) % this.#buf.length] as T;
      if (keep(item)) items.push(item);
    }
    this.#buf = new Array<T | undefined>(Math.max(16, items.length * 2));
    for (let i = 0; i < items.length; i++) this.#buf[i] = items[i];
    this.#head = 0;
    this.#size = items.length;
  }

  #grow(): void {
    const next = new Array<T | undefined>(this.#buf.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) % this.#buf.length];
    this.#buf = next;
    this.#head = 0;
  }
}
