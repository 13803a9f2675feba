import { EddyError } from '../../core/errors.ts';
import type { KeyId } from '../../core/key-codec.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { IndexedMinHeap } from '../indexed-heap.ts';
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
  /** Its slot in its key's {@link KeyTimers} list, kept so unindexing is O(1). */
  keySlot = -1;

  constructor(
    readonly timestamp: number,
    readonly key: unknown,
    readonly namespace: N,
    readonly keyGroup: number,
    /** Insertion order: breaks ties between timers of one timestamp and key group. */
    readonly seq: number,
    /** `keyIdOf(key)` and `namespaceCodec.idOf(namespace)`: with the timestamp, the timer's identity. */
    readonly keyId: KeyId,
    readonly namespaceId: string | number,
  ) {}
}

/** Heap order: timestamp, then key group, then insertion order — a total order, so firing is deterministic. */
function isBefore(a: HeapTimer<unknown>, b: HeapTimer<unknown>): boolean {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  if (a.keyGroup !== b.keyGroup) return a.keyGroup < b.keyGroup;
  return a.seq < b.seq;
}

/** A key's timers beyond this count are also indexed by a string id, so lookups stay O(1). */
const LINEAR_SCAN_LIMIT = 8;

/** An unambiguous string for (namespace, timestamp) within one key: the namespace id's type is tagged. */
function timerIdOf(namespaceId: string | number, timestamp: number): string {
  return typeof namespaceId === 'number' ? `${timestamp}|n${namespaceId}` : `${timestamp}|s${namespaceId}`;
}

/**
 * The timers of one key, for deduplication and removal. A key usually has a few (a window operator: one
 * or two per open window), found by a linear scan that compares timestamps and namespace ids and builds
 * nothing; past {@link LINEAR_SCAN_LIMIT} they are also indexed by {@link timerIdOf}, so a key with many
 * timers costs one string per lookup rather than a long scan.
 */
class KeyTimers<N> {
  readonly timers: Array<HeapTimer<N>> = [];
  byId: Map<string, HeapTimer<N>> | undefined = undefined;

  find(timestamp: number, namespaceId: string | number): HeapTimer<N> | undefined {
    if (this.byId !== undefined) return this.byId.get(timerIdOf(namespaceId, timestamp));
    const timers = this.timers;
    for (let i = 0; i < timers.length; i++) {
      const timer = timers[i]!;
      if (timer.timestamp === timestamp && timer.namespaceId === namespaceId) return timer;
    }
    return undefined;
  }

  add(timer: HeapTimer<N>): void {
    timer.keySlot = this.timers.length;
    this.timers.push(timer);
    if (this.byId !== undefined) {
      this.byId.set(timerIdOf(timer.namespaceId, timer.timestamp), timer);
    } else if (this.timers.length > LINEAR_SCAN_LIMIT) {
      this.byId = new Map();
      for (const each of this.timers) this.byId.set(timerIdOf(each.namespaceId, each.timestamp), each);
    }
  }

  /** Removes `timer` (which must be in this list) by moving the last one into its slot. */
  delete(timer: HeapTimer<N>): void {
    const timers = this.timers;
    const last = timers.pop()!;
    if (last !== timer) {
      timers[timer.keySlot] = last;
      last.keySlot = timer.keySlot;
    }
    timer.keySlot = -1;
    if (this.byId !== undefined) {
      this.byId.delete(timerIdOf(timer.namespaceId, timer.timestamp));
      if (timers.length <= LINEAR_SCAN_LIMIT / 2) this.byId = undefined;
    }
  }
}

/**
 * The heap-based {@link TimerQueue}: a binary min-heap ordered by (timestamp, key group, insertion
 * sequence), with an index from key id to that key's timers ({@link KeyTimers}) for deduplication on
 * (key, namespace, timestamp) and removal.
 *
 * Invariants: every timer in the heap is in the index and vice versa; `heap[i].heapIndex === i`; a
 * parent is never after its children; a key id is in the index only while it has timers. Cost: add /
 * remove / poll O(log n) plus one Map lookup by key id (no string is built for keys with at most
 * {@link LINEAR_SCAN_LIMIT} timers), peek / size O(1), snapshot O(n log n) (timers are sorted so a
 * restore re-inserts them in firing order).
 */
export class HeapTimerQueue<N> implements TimerQueue<N> {
  private readonly heap = new IndexedMinHeap<HeapTimer<N>>(isBefore);
  private readonly byKey = new Map<KeyId, KeyTimers<N>>();
  /**
   * The timer the last `add` added or found. Adding the same timer twice in a row is common (a window's
   * trigger timer and its cleanup timer coincide when there is no allowed lateness): this answers it
   * without a lookup. Valid only while it is in the heap (`heapIndex ≥ 0`).
   */
  private lastAdded: HeapTimer<N> | undefined = undefined;
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
    const context = this.keyContext;
    return this.addForKey(timestamp, context.getCurrentKey(), context.getCurrentKeyId(), context.getCurrentKeyGroup(), namespace);
  }

  /** Adds a timer for an explicit key (restore). `keyId` must be `keyIdOf(key)`. */
  addForKey(timestamp: number, key: unknown, keyId: KeyId, keyGroup: number, namespace: N): boolean {
    const namespaceId = this.namespaceCodec.idOf(namespace);
    const last = this.lastAdded;
    if (
      last !== undefined &&
      last.heapIndex >= 0 &&
      last.timestamp === timestamp &&
      last.namespaceId === namespaceId &&
      last.keyId === keyId
    ) {
      return false;
    }
    let keyTimers = this.byKey.get(keyId);
    if (keyTimers === undefined) {
      keyTimers = new KeyTimers<N>();
      this.byKey.set(keyId, keyTimers);
    } else {
      const existing = keyTimers.find(timestamp, namespaceId);
      if (existing !== undefined) {
        this.lastAdded = existing;
        return false;
      }
    }
    const timer = new HeapTimer<N>(timestamp, key, namespace, keyGroup, this.nextSeq++, keyId, namespaceId);
    keyTimers.add(timer);
    this.heap.push(timer);
    this.lastAdded = timer;
    return true;
  }

  remove(timestamp: number, namespace: N): boolean {
    const keyTimers = this.byKey.get(this.keyContext.getCurrentKeyId());
    if (keyTimers === undefined) return false;
    const timer = keyTimers.find(timestamp, this.namespaceCodec.idOf(namespace));
    if (timer === undefined) return false;
    this.removeAt(timer.heapIndex);
    return true;
  }

  peek(): Timer<N> | undefined {
    return this.heap.peek();
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
    const sorted = this.heap.sorted();
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
    this.heap.clear();
    this.byKey.clear();
    this.lastAdded = undefined;
  }

  private removeAt(index: number): HeapTimer<N> {
    const removed = this.heap.removeAt(index);
    const keyTimers = this.byKey.get(removed.keyId)!;
    keyTimers.delete(removed);
    if (keyTimers.timers.length === 0) this.byKey.delete(removed.keyId);
    return removed;
  }
}
