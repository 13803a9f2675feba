/** An element of an {@link IndexedMinHeap}: its slot in the heap, kept by the heap (−1 when not in it). */
export interface HeapSlot {
  heapIndex: number;
}

/**
 * A binary min-heap whose elements know their slot (`heapIndex`), so that any element — not only the
 * least — is removed in O(log n). The timer queues of both state backends keep their timers in one.
 * `isBefore` must be a strict total order over the elements it will hold.
 *
 * Invariants: `items[i].heapIndex === i` for every element in the heap; no element is before its
 * parent; an element not in the heap has `heapIndex === −1`.
 */
export class IndexedMinHeap<T extends HeapSlot> {
  private items: T[] = [];

  constructor(private readonly isBefore: (a: T, b: T) => boolean) {}

  get length(): number {
    return this.items.length;
  }

  /** The least element, or undefined when empty. */
  peek(): T | undefined {
    return this.items[0];
  }

  /** The elements in heap order (not sorted); a view: do not modify. */
  values(): readonly T[] {
    return this.items;
  }

  /** A copy of the elements sorted by `isBefore`. O(n log n). */
  sorted(): T[] {
    const isBefore = this.isBefore;
    return this.items.slice().sort((a, b) => (isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0));
  }

  push(item: T): void {
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.siftUp(item.heapIndex);
  }

  /** Removes and returns the element at slot `index` (its `heapIndex`); its slot becomes −1. */
  removeAt(index: number): T {
    const items = this.items;
    const removed = items[index]!;
    const last = items.pop()!;
    if (index < items.length) {
      items[index] = last;
      last.heapIndex = index;
      this.siftDown(index);
      this.siftUp(last.heapIndex);
    }
    removed.heapIndex = -1;
    return removed;
  }

  /**
   * Replaces the contents with `sorted`, which must be ordered by `isBefore` (a sorted array is a valid
   * heap), and takes ownership of the array. Elements dropped from the heap must have had their slots
   * reset by the caller.
   */
  replaceWithSorted(sorted: T[]): void {
    for (let i = 0; i < sorted.length; i++) sorted[i]!.heapIndex = i;
    this.items = sorted;
  }

  /** Empties the heap; every element's slot becomes −1. */
  clear(): void {
    for (const item of this.items) item.heapIndex = -1;
    this.items = [];
  }

  private siftUp(start: number): void {
    const items = this.items;
    const isBefore = this.isBefore;
    let index = start;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!isBefore(item, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  private siftDown(start: number): void {
    const items = this.items;
    const isBefore = this.isBefore;
    const length = items.length;
    let index = start;
    const item = items[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && isBefore(items[right]!, items[left]!)) child = right;
      const childItem = items[child]!;
      if (!isBefore(childItem, item)) break;
      items[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
