import { assertNever, ConfigurationError, EddyError } from '../../core/errors.ts';
import { keyIdOf, type KeyId } from '../../core/key-codec.ts';
import { assignToKeyGroup, type KeyGroupRange } from '../../core/key-group.ts';
import type { StateDescriptor } from '../descriptors.ts';
import type {
  InternalKvState,
  KeyedStateBackend,
  KeyedStateBackendOptions,
  KeyedStateSnapshot,
  KeyGroupSnapshot,
  NamespaceCodec,
  StateEntrySnapshot,
  StateSnapshot,
  TimerQueue,
  TimerQueueSnapshot,
  TimerSnapshot,
} from '../keyed-state-backend.ts';
import { VOID_NAMESPACE, voidNamespaceCodec } from '../keyed-state-backend.ts';
import { KeyedStateAccessors } from '../keyed-state-accessors.ts';
import {
  checkBackendKeyGroupRange,
  checkRestoredStateKind,
  checkSameNamespaceUse,
  checkSameStateKind,
  checkSnapshotMaxParallelism,
  keyOutsideRange,
} from '../backend-checks.ts';
import { CurrentKey } from './current-key.ts';
import { HeapTimerQueue, type TimerKeyContext } from './heap-timer-queue.ts';
import { MemoryAggregatingState } from './memory-aggregating-state.ts';
import type { MemoryKvState, TtlTimeSource } from './memory-kv-state.ts';
import { MemoryListState } from './memory-list-state.ts';
import { MemoryMapState } from './memory-map-state.ts';
import { MemoryReducingState } from './memory-reducing-state.ts';
import { MemoryValueState } from './memory-value-state.ts';

/** Restored state not yet registered by the operator: kept as snapshot data until its descriptor arrives. */
interface PendingState {
  readonly kind: StateDescriptor['kind'];
  readonly version: number;
  readonly byKeyGroup: Array<{ readonly keyGroup: number; readonly entries: readonly StateEntrySnapshot[] }>;
}

type PendingTimers = Array<{ readonly keyGroup: number; readonly timers: readonly TimerSnapshot[] }>;

/**
 * The keyed state backend that keeps everything on the JavaScript heap: per state, one Map of keys per
 * key group, then one entry per namespace (see {@link MemoryKvState}); per timer queue, a binary heap.
 * Values are held by reference. It is the reference implementation of the {@link KeyedStateBackend}
 * contract (the conformance suite in `test/state/backend-conformance.ts` pins it) and the default
 * backend for state that fits in memory.
 *
 * Invariants: every stored key belongs to a key group of `keyGroupRange`; a state name has one kind for
 * the life of the backend; restored state stays as validated-on-registration snapshot data until the
 * operator registers its descriptor, and is snapshotted as is meanwhile.
 *
 * Costs: `setCurrentKey` one canonical key encoding + murmur3 (composite keys also build a string id);
 * a state access one Map lookup and a short scan (see `MemoryKvState`); `snapshot` O(entries +
 * timers·log timers) plus one `structuredClone` of the result (so later writes cannot change a taken
 * snapshot); `restore` one `structuredClone` per restored key group.
 */
export class MemoryStateBackend extends KeyedStateAccessors implements KeyedStateBackend, TimerKeyContext {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  private readonly operatorUid: string;
  private readonly subtask: number;
  private readonly current = new CurrentKey();
  private readonly ttlTime: TtlTimeSource;
  private readonly states = new Map<string, MemoryKvState<unknown>>();
  private readonly timerQueues = new Map<string, HeapTimerQueue<unknown>>();
  private readonly pendingStates = new Map<string, PendingState>();
  private readonly pendingTimers = new Map<string, PendingTimers>();

  constructor(options: KeyedStateBackendOptions) {
    super();
    this.maxParallelism = options.maxParallelism;
    this.keyGroupRange = options.keyGroupRange;
    this.operatorUid = options.operatorUid;
    this.subtask = options.subtask;
    this.ttlTime = { clock: options.clock, currentWatermark: options.currentWatermark };
    checkBackendKeyGroupRange(options);
  }

  // ---- current key ----

  setCurrentKey(key: unknown): void {
    this.setCurrentKeyWithGroup(key, assignToKeyGroup(key, this.maxParallelism));
  }

  setCurrentKeyWithGroup(key: unknown, keyGroup: number): void {
    if (!this.keyGroupRange.contains(keyGroup)) {
      throw keyOutsideRange(this.operatorUid, this.subtask, key, keyGroup, this.keyGroupRange);
    }
    const current = this.current;
    current.key = key;
    current.keyId = keyIdOf(key);
    current.keyGroup = keyGroup;
    current.keyGroupIndex = keyGroup - this.keyGroupRange.start;
  }

  getCurrentKey(): unknown {
    return this.current.key;
  }

  getCurrentKeyId(): KeyId {
    return this.current.keyId;
  }

  getCurrentKeyGroup(): number {
    return this.current.keyGroup;
  }

  // ---- states ----

  getPartitionedState<N>(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>): InternalKvState<N> {
    const existing = this.states.get(descriptor.name);
    if (existing !== undefined) {
      this.checkSameKind(existing.descriptor.kind, descriptor);
      checkSameNamespaceUse(
        this.operatorUid,
        descriptor.name,
        existing.namespaceCodec === voidNamespaceCodec,
        namespaceCodec === (voidNamespaceCodec as unknown),
      );
      return existing as unknown as InternalKvState<N>;
    }
    const state = this.createState(descriptor, namespaceCodec);
    this.states.set(descriptor.name, state as unknown as MemoryKvState<unknown>);
    const pending = this.pendingStates.get(descriptor.name);
    if (pending !== undefined) {
      this.pendingStates.delete(descriptor.name);
      if (pending.kind !== descriptor.kind) {
        this.states.delete(descriptor.name);
        checkRestoredStateKind(this.operatorUid, pending.kind, descriptor, 'snapshotted');
      }
      try {
        for (const { keyGroup, entries } of pending.byKeyGroup) {
          state.restoreKeyGroup(keyGroup, keyGroup - this.keyGroupRange.start, entries, this.operatorUid);
        }
      } catch (error) {
        // Leave no half-restored state behind: the restore has failed as a whole.
        this.states.delete(descriptor.name);
        this.pendingStates.set(descriptor.name, pending);
        throw error;
      }
    }
    return state;
  }

  private createState<N>(descriptor: StateDescriptor, codec: NamespaceCodec<N>): MemoryKvState<N> {
    const initialNamespace = codec === (voidNamespaceCodec as unknown) ? (VOID_NAMESPACE as N) : undefined;
    const size = this.keyGroupRange.size;
    switch (descriptor.kind) {
      case 'value':
        return new MemoryValueState<N>(descriptor, codec, this.current, size, this.ttlTime, initialNamespace);
      case 'list':
        return new MemoryListState<N>(descriptor, codec, this.current, size, this.ttlTime, initialNamespace);
      case 'map':
        return new MemoryMapState<N>(descriptor, codec, this.current, size, this.ttlTime, initialNamespace);
      case 'reducing':
        return new MemoryReducingState<N>(descriptor, codec, this.current, size, this.ttlTime, initialNamespace);
      case 'aggregating':
        return new MemoryAggregatingState<N>(descriptor, codec, this.current, size, this.ttlTime, initialNamespace);
      default:
        return assertNever(descriptor, 'state kind');
    }
  }

  private checkSameKind(kind: StateDescriptor['kind'], descriptor: StateDescriptor): void {
    checkSameStateKind(this.operatorUid, kind, descriptor);
  }

  getKeys(stateName: string, namespaceId: string | number): unknown[] {
    const state = this.states.get(stateName);
    if (state === undefined) {
      if (!this.pendingStates.has(stateName)) return [];
      throw new EddyError(
        `getKeys('${stateName}') on operator '${this.operatorUid}': register the state before listing its keys`,
      );
    }
    return state.getKeys(namespaceId);
  }

  // ---- timers ----

  getTimerQueue<N>(name: string, namespaceCodec: NamespaceCodec<N>): TimerQueue<N> {
    const existing = this.timerQueues.get(name);
    if (existing !== undefined) return existing as unknown as TimerQueue<N>;
    const queue = new HeapTimerQueue<N>(name, namespaceCodec, this);
    this.timerQueues.set(name, queue as unknown as HeapTimerQueue<unknown>);
    const pending = this.pendingTimers.get(name);
    if (pending !== undefined) {
      this.pendingTimers.delete(name);
      for (const { keyGroup, timers } of pending) this.restoreTimers(queue, keyGroup, timers);
    }
    return queue;
  }

  private restoreTimers<N>(queue: HeapTimerQueue<N>, keyGroup: number, timers: readonly TimerSnapshot[]): void {
    for (const [timestamp, key, namespacePlain] of timers) {
      queue.addForKey(timestamp, key, keyIdOf(key), keyGroup, queue.namespaceCodec.fromPlain(namespacePlain));
    }
  }

  // ---- snapshot / restore ----

  snapshot(): KeyedStateSnapshot {
    const range = this.keyGroupRange;
    const timersByQueue: Array<[string, Array<readonly TimerSnapshot[] | undefined>]> = [];
    for (const [name, queue] of this.timerQueues) timersByQueue.push([name, queue.snapshotByKeyGroup(range)]);
    // Restored but not yet registered state and timers, passed through as they were restored.
    const pendingStatesByIndex = new Array<StateSnapshot[] | undefined>(range.size);
    for (const [name, pending] of this.pendingStates) {
      for (const { keyGroup, entries } of pending.byKeyGroup) {
        if (entries.length === 0) continue;
        const index = keyGroup - range.start;
        (pendingStatesByIndex[index] ??= []).push({ name, kind: pending.kind, version: pending.version, entries });
      }
    }
    const pendingTimersByIndex = new Array<TimerQueueSnapshot[] | undefined>(range.size);
    for (const [name, pending] of this.pendingTimers) {
      for (const { keyGroup, timers } of pending) {
        if (timers.length > 0) (pendingTimersByIndex[keyGroup - range.start] ??= []).push({ name, timers });
      }
    }
    const keyGroups: KeyGroupSnapshot[] = [];
    for (let keyGroup = range.start; keyGroup < range.end; keyGroup++) {
      const index = keyGroup - range.start;
      const states: StateSnapshot[] = [];
      for (const state of this.states.values()) {
        const entries = state.snapshotKeyGroup(index);
        if (entries !== undefined) {
          states.push({ name: state.descriptor.name, kind: state.descriptor.kind, version: state.descriptor.version, entries });
        }
      }
      const pendingStates = pendingStatesByIndex[index];
      if (pendingStates !== undefined) states.push(...pendingStates);
      const timerQueues: TimerQueueSnapshot[] = [];
      for (const [name, byKeyGroup] of timersByQueue) {
        const timers = byKeyGroup[index];
        if (timers !== undefined) timerQueues.push({ name, timers });
      }
      const pendingTimers = pendingTimersByIndex[index];
      if (pendingTimers !== undefined) timerQueues.push(...pendingTimers);
      if (states.length > 0 || timerQueues.length > 0) keyGroups.push({ keyGroup, states, timerQueues });
    }
    let copied: KeyGroupSnapshot[];
    try {
      copied = structuredClone(keyGroups);
    } catch (error) {
      throw new ConfigurationError(
        `operator '${this.operatorUid}' holds a keyed-state value that cannot be copied into a snapshot ` +
          `(${error instanceof Error ? error.message : String(error)}); state values must be plain data ` +
          '(no functions, symbols or class instances with behaviour)',
        { operatorUid: this.operatorUid, subtask: this.subtask, cause: error },
      );
    }
    return { format: 'eddy-keyed-state/1', maxParallelism: this.maxParallelism, keyGroups: copied };
  }

  restore(snapshots: readonly KeyedStateSnapshot[]): void {
    for (const snapshot of snapshots) {
      if (snapshot.format !== 'eddy-keyed-state/1') {
        throw new EddyError(
          `operator '${this.operatorUid}': keyed-state snapshot format '${String(snapshot.format)}' is not supported ` +
            "(expected 'eddy-keyed-state/1')",
          { operatorUid: this.operatorUid, subtask: this.subtask },
        );
      }
      checkSnapshotMaxParallelism(this.operatorUid, this.subtask, this.maxParallelism, snapshot.maxParallelism);
      for (const original of snapshot.keyGroups) {
        if (!this.keyGroupRange.contains(original.keyGroup)) continue;
        this.restoreKeyGroup(structuredClone(original));
      }
    }
  }

  private restoreKeyGroup(keyGroupSnapshot: KeyGroupSnapshot): void {
    const keyGroup = keyGroupSnapshot.keyGroup;
    for (const stateSnapshot of keyGroupSnapshot.states) {
      const state = this.states.get(stateSnapshot.name);
      if (state !== undefined) {
        checkRestoredStateKind(this.operatorUid, stateSnapshot.kind, state.descriptor, 'snapshotted');
        state.restoreKeyGroup(keyGroup, keyGroup - this.keyGroupRange.start, stateSnapshot.entries, this.operatorUid);
        continue;
      }
      let pending = this.pendingStates.get(stateSnapshot.name);
      if (pending === undefined) {
        pending = { kind: stateSnapshot.kind, version: stateSnapshot.version, byKeyGroup: [] };
        this.pendingStates.set(stateSnapshot.name, pending);
      } else if (pending.kind !== stateSnapshot.kind) {
        throw new EddyError(
          `operator '${this.operatorUid}': state '${stateSnapshot.name}' appears as both ${pending.kind} and ` +
            `${stateSnapshot.kind} state in the restored snapshots`,
          { operatorUid: this.operatorUid },
        );
      }
      pending.byKeyGroup.push({ keyGroup, entries: stateSnapshot.entries });
    }
    for (const queueSnapshot of keyGroupSnapshot.timerQueues) {
      const queue = this.timerQueues.get(queueSnapshot.name);
      if (queue !== undefined) {
        this.restoreTimers(queue, keyGroup, queueSnapshot.timers);
        continue;
      }
      let pending = this.pendingTimers.get(queueSnapshot.name);
      if (pending === undefined) {
        pending = [];
        this.pendingTimers.set(queueSnapshot.name, pending);
      }
      pending.push({ keyGroup, timers: queueSnapshot.timers });
    }
  }

  dispose(): void {
    for (const state of this.states.values()) state.dispose();
    for (const queue of this.timerQueues.values()) queue.clear();
    this.states.clear();
    this.timerQueues.clear();
    this.pendingStates.clear();
    this.pendingTimers.clear();
    this.current.keyGroupIndex = -1;
  }
}

