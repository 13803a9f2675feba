import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedMinHeap } from '../../src/state/indexed-heap.ts';

interface Item {
  heapIndex: number;
  readonly value: number;
  readonly id: number;
}

const isBefore = (a: Item, b: Item): boolean => (a.value !== b.value ? a.value < b.value : a.id < b.id);

/** The heap's invariants: every slot is right, and no element is before its parent. */
function checkInvariants(heap: IndexedMinHeap<Item>): void {
  const items = heap.values();
  items.forEach((item, index) => {
    expect(item.heapIndex).toBe(index);
    if (index > 0) expect(isBefore(item, items[(index - 1) >> 1]!)).toBe(false);
  });
}

describe('IndexedMinHeap', () => {
  it('matches a sorted list under random pushes, removals anywhere and polls', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), value: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('poll' as const) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const heap = new IndexedMinHeap<Item>(isBefore);
        let model: Item[] = [];
        let nextId = 0;
        for (const op of operations) {
          if (op.kind === 'push') {
            const item: Item = { heapIndex: -1, value: op.value, id: nextId++ };
            heap.push(item);
            model.push(item);
          } else if (op.kind === 'remove' && model.length > 0) {
            const victim = model[op.pick % model.length]!;
            expect(heap.removeAt(victim.heapIndex)).toBe(victim);
            expect(victim.heapIndex).toBe(-1);
            model = model.filter((item) => item !== victim);
          } else if (op.kind === 'poll' && model.length > 0) {
            model.sort((a, b) => (isBefore(a, b) ? -1 : 1));
            const least = heap.removeAt(0);
            expect(least).toBe(model.shift());
          }
          checkInvariants(heap);
          expect(heap.length).toBe(model.length);
        }
        const sorted = model.slice().sort((a, b) => (isBefore(a, b) ? -1 : 1));
        expect(heap.sorted()).toEqual(sorted);
        expect(heap.peek()).toBe(sorted[0]);
      }),
      { numRuns: 200 },
    );
  });

  it('takes a sorted run as its contents, and clears every slot', () => {
    const heap = new IndexedMinHeap<Item>(isBefore);
    const items: Item[] = [3, 1, 2].map((value, id) => ({ heapIndex: -1, value, id }));
    heap.replaceWithSorted(items.slice().sort((a, b) => a.value - b.value));
    checkInvariants(heap);
    heap.push({ heapIndex: -1, value: 0, id: 9 });
    expect(heap.peek()?.value).toBe(0);
    heap.clear();
    expect(heap.length).toBe(0);
    expect(items.every((item) => item.heapIndex === -1)).toBe(true);
  });
});
