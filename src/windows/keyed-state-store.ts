import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.ts';
import type { KeyedStateBackend, NamespaceCodec } from '../state/keyed-state-backend.ts';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.ts';

/**
 * Access to keyed state by descriptor, scoped to the current key and to one namespace (a window, or
 * the void namespace for per-key state). The state object is shared per descriptor name and re-scoped
 * on every `get…State` call: use it right away, don't keep it across firings.
 */
export interface KeyedStateStore {
  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

/** A {@link KeyedStateStore} over a backend whose namespace is read from `namespaceOf()` at each access. */
export class NamespacedStateStore<N> implements KeyedStateStore {
  constructor(
    private readonly backend: KeyedStateBackend,
    private readonly codec: NamespaceCodec<N>,
    private readonly namespaceOf: () => N,
  ) {}

  /** The backend's namespaced state object for `descriptor`, scoped to the current namespace. */
  scoped(descriptor: StateDescriptor): unknown {
    const state = this.backend.getPartitionedState(descriptor, this.codec);
    state.setCurrentNamespace(this.namespaceOf());
    return state;
  }

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    return this.scoped(descriptor as unknown as StateDescriptor) as ValueState<T>;
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.scoped(descriptor as unknown as StateDescriptor) as ListState<T>;
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.scoped(descriptor as unknown as StateDescriptor) as MapState<K, V>;
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.scoped(descriptor as unknown as StateDescriptor) as ReducingState<T>;
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.scoped(descriptor as unknown as StateDescriptor) as AggregatingState<IN, OUT>;
  }
}
