import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from './descriptors.ts';
import { voidNamespaceCodec, type InternalKvState, type NamespaceCodec } from './keyed-state-backend.ts';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from './state.ts';

/**
 * The typed state getters of a keyed state backend (state outside windows: the void namespace), on top
 * of its one registration method. Both backends extend it.
 */
export abstract class KeyedStateAccessors {
  abstract getPartitionedState<N>(descriptor: StateDescriptor, namespaceCodec: NamespaceCodec<N>): InternalKvState<N>;

  getValueState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T> {
    return this.getPartitionedState(descriptor as StateDescriptor, voidNamespaceCodec) as unknown as ValueState<T>;
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.getPartitionedState(descriptor as StateDescriptor, voidNamespaceCodec) as unknown as ListState<T>;
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.getPartitionedState(descriptor as StateDescriptor, voidNamespaceCodec) as unknown as MapState<K, V>;
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.getPartitionedState(descriptor as StateDescriptor, voidNamespaceCodec) as unknown as ReducingState<T>;
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.getPartitionedState(descriptor as StateDescriptor, voidNamespaceCodec) as unknown as AggregatingState<IN, OUT>;
  }
}
