import { EddyError } from '../../core/errors.ts';
import type { KeyId } from '../../core/key-codec.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { NamespaceCodec, Timer, TimerQueue, TimerSnapshot } from '../keyed-state-backend.ts';

/** What a timer queue needs from its backend: the current key, its map id and its key group. */
export interface TimerKeyContext {
  getCurrentKey(): unknown;
  getCurrentKeyId(): KeyId;
  getCurrentKeyGroup(): number;
}

/** A timer in the heap. `heapIndex` is its slot (−1 once polled or removed), kept so removal is O(log n). */
class HeapTimer<N> implements Timer<N> {
  heapIndex = -1;

  constructor(
    readonly timestamp: number,
    readonly key: unknown,
    readonly namespace: N,
    readonly keyGroup: number,
    /** Insertion order: breaks ties between timers of one timestamp and key group. */
    readonly seq: number,
    /** Identity of (key, namespace, timestamp) in the dedupe map. */
    readonly id: string,
  ) {}
}

/** Heap order: timestamp, then key group, then insertion order — a total order, so firing is deterministic. */
function isBefore(a: HeapTimer<unknown>, b: HeapTimer<unknown>): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  if (a.keyGroup !== b.keyGroup) return a.keyGroup < b.keyGroup;
  return a.seq < b.seq;
}

/**
 * An unambiguous string for (key, namespace, timestamp): a type tag per part, the namespace length
 * prefixed, the key last (so it needs no length). Costs one string concatenation per add/remove.
 */
function timerIdOf(keyId: KeyId, namespaceId: string | number, timestamp: number): string {
  const namespacePart = typeof namespaceId === 'number' ? `n${namespaceId}` : `s${namespaceId.length}:${namespaceId}`;
  let keyPart: string;
  switch (typeof keyId) {
    case 'string':
      keyPart = `s${keyId}`;
      break;
    case 'number':
      keyPart = `n${keyId}`;
      break;
    case 'bigint':
      keyPart = `b${keyId}`;
      break;
    case 'boolean':
      keyPart = keyId ? 't' : 'f';
      break;
    default:
      keyPart = 'z';
  }
  return `${timestamp}|${namespacePart}|${keyPart}`;
}

/**
 * The heap-based {@link TimerQueue}: a binary min-heap ordered by (timestamp, key group, insertion
 * sequence), with a map from (key, namespace, timestamp) to its heap slot for deduplication and removal.
 *
 * Invariants: every timer in the heap is in the map and vice versa; `heap[i].heapIndex === i`; a parent
 * is never after its children. Cost: add / remove / poll O(log n), peek / size O(1), snapshot
 * O(n log n) (timers are sorted so a restore re-inserts them in firing order).
 */
export class HeapTimerQueue<N> implements TimerQueue<N> {
  private readonly heap: Array<HeapTimer<N>> = [];
  private readonly byId = new Map<string, HeapTimer<N>>();
  private nextSeq = 0;

  constructor(
    readonly name: string,
    readonly namespaceCodec: NamespaceCodec<N>,
    private readonly keyContext: TimerKeyContext,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(timestamp: number, namespace: N): boolean {
    const keyId = this.keyContext.getCurrentKeyId();
    const id = timerIdOf(keyId, this.namespaceCodec.idOf(namespace), timestamp);
    if (this.byId.has(id)) return false;
    this.insert(
      new HeapTimer<N>(timestamp, this.keyContext.getCurrentKey(), namespace, this.keyContext.getCurrentKeyGroup(), this.nextSeq++, id),
    );
    return true;
  }

  /** Adds a timer for an explicit key (restore). `keyId` must be `keyIdOf(key)`. */
  addForKey(timestamp: number, key: unknown, keyId: KeyId, keyGroup: number, namespace: N): boolean {
    const id = timerIdOf(keyId, this.namespaceCodec.idOf(namespace), timestamp);
    if (this.byId.has(id)) return false;
    this.insert(new HeapTimer<N>(timestamp, key, namespace, keyGroup, this.nextSeq++, id));
    return true;
  }

  remove(timestamp: number, namespace: N): boolean {
    const id = timerIdOf(this.keyContext.getCurrentKeyId(), this.namespaceCodec.idOf(namespace), timestamp);
    const timer = this.byId.get(id);
    if (timer === undefined) return false;
    this.removeAt(timer.heapIndex);
    return true;
  }

  peek(): Timer<N> | undefined {
    return this.heap[0];
  }

  poll(): Timer<N> | undefined {
    if (this.heap.length === 0) return undefined;
    return this.removeAt(0);
  }

  /**
   * The timers of each key group of `range`, as plain snapshot data, indexed by `keyGroup −
   * range.start`, each list in firing order. Timers outside the range are a bug and throw.
   */
  snapshotByKeyGroup(range: KeyGroupRange): Array<TimerSnapshot[] | undefined> {
    const sorted = this.heap.slice().sort((a, b) => (isBefore(a, b) ? -1 : 1));
    const byKeyGroup = new Array<TimerSnapshot[] | undefined>(range.size);
    for (const timer of sorted) {
      if (!range.contains(timer.keyGroup)) {
        throw new EddyError(`timer queue '${this.name}' holds a timer of key group ${timer.keyGroup}, outside ${range}`);
      }
      const index = timer.keyGroup - range.start;
      let list = byKeyGroup[index];
      if (list === undefined) {
        list = [];
        byKeyGroup[index] = list;
      }
      list.push([timer.timestamp, timer.key, this.namespaceCodec.toPlain(timer.namespace)]);
    }
    return byKeyGroup;
  }

  clear(): void {
    for (const timer of this.heap) timer.heapIndex = -1;
    this.heap.length = 0;
    this.byId.clear();
  }

  private insert(timer: HeapTimer<N>): void {
    this.byId.set(timer.id, timer);
    timer.heapIndex = this.heap.length;
    this.heap.push(timer);
    this.siftUp(timer.heapIndex);
  }

  private removeAt(index: number): HeapTimer<N> {
    const heap = this.heap;
    const removed = heap[index]!;
    const last = heap.pop()!;
    if (index < heap.length) {
      heap[index] = last;
      last.heapIndex = index;
      this.siftDown(index);
      this.siftUp(last.heapIndex);
    }
    removed.heapIndex = -1;
    this.byId.delete(removed.id);
    return removed;
  }

  private siftUp(start: number): void {
    const heap = this.heap;
    let index = start;
    const timer = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!isBefore(timer, parent)) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = timer;
    timer.heapIndex = index;
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const length = heap.length;
    let index = start;
    const timer = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && isBefore(heap[right]!, heap[left]!)) child = right;
      const childTimer = heap[child]!;
      if (!isBefore(childTimer, timer)) break;
      heap[index] = childTimer;
      childTimer.heapIndex = index;
      index = child;
    }
    heap[index] = timer;
    timer.heapIndex = index;
  }
}
