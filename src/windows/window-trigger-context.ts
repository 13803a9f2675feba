import { ConfigurationError } from '../core/errors.ts';
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.ts';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.ts';
import type { KeyedStateBackend, NamespaceCodec } from '../state/keyed-state-backend.ts';
import type { InternalTimerService } from '../time/timer-service.ts';
import type { OnMergeContext } from './trigger.ts';
import type { Window } from './window.ts';

/**
 * The {@link OnMergeContext} a window operator hands its trigger. One object per operator: the
 * operator points `window` (and, for `onMerge`, `mergedWindows`) at the window being handled before
 * each call; timers and state are scoped to that window and the backend's current key.
 */
export class WindowTriggerContext<W extends Window> implements OnMergeContext {
  window!: W;
  mergedWindows: readonly W[] = [];

  constructor(
    private readonly backend: KeyedStateBackend,
    private readonly codec: NamespaceCodec<W>,
    private readonly timers: InternalTimerService<W>,
  ) {}

  currentProcessingTime(): number {
    return this.timers.currentProcessingTime();
  }

  currentWatermark(): number {
    return this.timers.currentWatermark();
  }

  registerEventTimeTimer(timestampMs: number): void {
    this.timers.registerEventTimeTimer(this.window, timestampMs);
  }

  deleteEventTimeTimer(timestampMs: number): void {
    this.timers.deleteEventTimeTimer(this.window, timestampMs);
  }

  registerProcessingTimeTimer(timestampMs: number): void {
    this.timers.registerProcessingTimeTimer(this.window, timestampMs);
  }

  deleteProcessingTimeTimer(timestampMs: number): void {
    this.timers.deleteProcessingTimeTimer(this.window, timestampMs);
  }

  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
  getPartitionedState(descriptor: { readonly kind: StateDescriptor['kind'] }): unknown {
    const state = this.backend.getPartitionedState(descriptor as StateDescriptor, this.codec);
    state.setCurrentNamespace(this.window);
    return state;
  }

  mergePartitionedState<T>(descriptor: ListStateDescriptor<T>): void;
  mergePartitionedState<T>(descriptor: ReducingStateDescriptor<T>): void;
  mergePartitionedState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): void;
  mergePartitionedState(descriptor: { readonly kind: StateDescriptor['kind']; readonly name: string }): void {
    if (descriptor.kind !== 'list' && descriptor.kind !== 'reducing' && descriptor.kind !== 'aggregating') {
      throw new ConfigurationError(
        `trigger state '${descriptor.name}' is ${descriptor.kind} state, which cannot merge: use list, reducing or aggregating state in triggers of merging windows`,
      );
    }
    if (this.mergedWindows.length === 0) return;
    this.backend.getPartitionedState(descriptor as StateDescriptor, this.codec).mergeNamespaces(this.window, this.mergedWindows);
  }
}
