import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineHeap, type HeapItem } from './deadline-heap.js';
import { RingDeque } from './ring-deque.js';

describe('RingDeque', () => {
  it('behaves like an array used as a deque, across growth and wrap-around', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer(), fc.constantFrom('popFront', 'popBack', 'retainEven'))),
        (ops) => {
          const deque = new RingDeque<number>(2);
          const model: number[] = [];
          for (const o of ops) {
            if (typeof o === 'number') {
              deque.pushBack(o);
              model.push(o);
            } else if (o === 'popFront') expect(deque.popFront()).toBe(model.shift());
            else if (o === 'popBack') expect(deque.popBack()).toBe(model.pop());
            else {
              deque.retain((n) => n % 2 === 0);
              model.splice(0, model.length, ...model.filter((n) => n % 2 === 0));
            }
            expect(deque.length).toBe(model.length);
            expect(deque.peekFront()).toBe(model[0]);
            expect(deque.peekBack()).toBe(model[model.length - 1]);
          }
        },
      ),
    );
  });
});

describe('DeadlineHeap', () => {
  it('always yields the earliest deadline, with removal of any item', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.boolean())), (entries) => {
        const heap = new DeadlineHeap<HeapItem>();
        const items = entries.map(([deadlineAt]) => ({ deadlineAt, heapIndex: -1 }));
        for (const item of items) heap.push(item);
        const kept = items.filter((item, i) => {
          if (entries[i]?.[1]) return true;
          heap.remove(item);
          return false;
        });
        expect(heap.size).toBe(kept.length);
        const order: number[] = [];
        for (let item = heap.pop(); item !== undefined; item = heap.pop()) order.push(item.deadlineAt);
        expect(order).toEqual(kept.map((i) => i.deadlineAt).sort((a, b) => a - b));
        expect(items.every((i) => i.heapIndex === -1)).toBe(true);
      }),
    );
  });
});
