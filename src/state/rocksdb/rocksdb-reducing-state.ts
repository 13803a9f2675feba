import type { ReducingStateDescriptor } from '../descriptors.ts';
import type { ReducingState } from '../state.ts';
import { NONE, RocksRowState } from './rocksdb-row-state.ts';

/** Reducing state in RocksDB: one row per (key, namespace) holding the running `reduce(current, added)`. */
export class RocksReducingState<N> extends RocksRowState<N> implements ReducingState<unknown> {
  get(): unknown {
    const value = this.readValue(this.namespace, this.namespaceId);
    return value === NONE ? undefined : value;
  }

  add(value: unknown): void {
    const current = this.readValue(this.namespace, this.namespaceId);
    this.writeValue(this.namespace, this.namespaceId, current === NONE ? value : this.reduce(current, value));
  }

  protected override checkCanMerge(): void {}

  protected override mergeValues(a: unknown, b: unknown): unknown {
    return this.reduce(a, b);
  }

  private reduce(a: unknown, b: unknown): unknown {
    return (this.descriptor as ReducingStateDescriptor<unknown>).reduce(a, b);
  }
}
