import { ConfigurationError } from '../../core/errors.ts';
import type { AggregateFunction, AggregatingStateDescriptor } from '../descriptors.ts';
import type { AggregatingState } from '../state.ts';
import { MemoryKvState } from './memory-kv-state.ts';

/** Aggregating state: stores the accumulator; `get` returns `getResult(accumulator)`, undefined when empty. */
export class MemoryAggregatingState<N> extends MemoryKvState<N> implements AggregatingState<unknown, unknown> {
  get(): unknown {
    const entry = this.readEntry(this.namespaceId);
    return entry === undefined ? undefined : this.aggregate.getResult(entry.value);
  }

  add(value: unknown): void {
    const entry = this.readEntry(this.namespaceId);
    const accumulator = entry === undefined ? this.aggregate.createAccumulator() : entry.value;
    this.writeEntryTo(entry, this.namespace, this.namespaceId, this.aggregate.add(value, accumulator));
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
