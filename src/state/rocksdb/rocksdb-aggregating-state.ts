import { ConfigurationError } from '../../core/errors.ts';
import type { AggregateFunction, AggregatingStateDescriptor } from '../descriptors.ts';
import type { AggregatingState } from '../state.ts';
import { NONE, RocksRowState } from './rocksdb-row-state.ts';

/**
 * Aggregating state in RocksDB: one row per (key, namespace) holding the accumulator; `get` returns
 * `getResult(accumulator)`, undefined when empty.
 */
export class RocksAggregatingState<N> extends RocksRowState<N> implements AggregatingState<unknown, unknown> {
  get(): unknown {
    const accumulator = this.readValue(this.namespace, this.namespaceId);
    return accumulator === NONE ? undefined : this.aggregate.getResult(accumulator);
  }

  add(value: unknown): void {
    const current = this.readValue(this.namespace, this.namespaceId);
    const accumulator = current === NONE ? this.aggregate.createAccumulator() : current;
    this.writeValue(this.namespace, this.namespaceId, this.aggregate.add(value, accumulator));
  }

  protected override checkCanMerge(): void {
    if (this.aggregate.merge === undefined) {
      throw new ConfigurationError(
        `aggregating state '${this.name}' cannot merge windows: its AggregateFunction has no merge(a, b); add one`,
      );
    }
  }

  protected override mergeValues(a: unknown, b: unknown): unknown {
    return this.aggregate.merge!(a, b);
  }

  private get aggregate(): AggregateFunction<unknown, unknown, unknown> {
    return (this.descriptor as AggregatingStateDescriptor<unknown, unknown, unknown>).aggregate;
  }
}
