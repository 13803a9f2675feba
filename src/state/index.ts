/**
 * Keyed state: named, typed pieces of state that user functions and operators read and write for the
 * *current key* (and, inside windows, the current namespace).
 *
 * - Descriptors (`valueState`, `listState`, `mapState`, `reducingState`, `aggregatingState`) name a
 *   state, its kind, an optional TTL and an optional zod schema + version checked on restore.
 * - A {@link KeyedStateBackend} (one per stateful operator subtask) stores the state of the key groups
 *   `keyGroupRange` it owns, holds the operator's timer queues, and snapshots everything per key group
 *   in one canonical, backend-independent format — so a job restores at another parallelism, or onto
 *   another backend.
 * - {@link MemoryStateBackend} keeps state on the heap and is the reference semantics; the RocksDB
 *   backend implements the same contract.
 *
 * Invariants every backend guarantees: a key's state lives only in the subtask that owns its key group;
 * a state name has one kind; timers are deduplicated on (key, namespace, timestamp) and ordered by
 * (timestamp, key group, then a deterministic backend-defined order); expired TTL entries are never
 * snapshotted; a taken snapshot does not change when state changes afterwards.
 */
export {
  aggregatingState,
  listState,
  mapState,
  reducingState,
  stateTtl,
  valueState,
} from './descriptors.ts';
export type {
  AggregateFunction,
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  StateDescriptorOptions,
  StateKind,
  StateTtlConfig,
  StateTtlOptions,
  TtlTimeCharacteristic,
  TtlUpdateType,
  TtlVisibility,
  ValueStateDescriptor,
} from './descriptors.ts';
export type { AggregatingState, ListState, MapState, ReducingState, State, ValueState } from './state.ts';
export { VOID_NAMESPACE, voidNamespaceCodec } from './keyed-state-backend.ts';
export type {
  InternalKvState,
  KeyedStateBackend,
  KeyedStateBackendOptions,
  KeyedStateSnapshot,
  KeyGroupSnapshot,
  NamespaceCodec,
  StateEntrySnapshot,
  StateSnapshot,
  Timer,
  TimerQueue,
  TimerQueueSnapshot,
  TimerSnapshot,
  VoidNamespace,
} from './keyed-state-backend.ts';
export { MemoryStateBackend } from './memory/memory-state-backend.ts';
export { HeapTimerQueue } from './memory/heap-timer-queue.ts';
export type { TimerKeyContext } from './memory/heap-timer-queue.ts';
