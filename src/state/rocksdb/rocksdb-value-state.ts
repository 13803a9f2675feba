import type { ValueStateDescriptor } from '../descriptors.ts';
import type { ValueState } from '../state.ts';
import { NONE, RocksRowState } from './rocksdb-row-state.ts';

/** Value state in RocksDB: one row per (key, namespace) holding `T`; `update(undefined)` clears. */
export class RocksValueState<N> extends RocksRowState<N> implements ValueState<unknown> {
  value(): unknown {
    const value = this.readValue(this.namespace, this.namespaceId);
    return value === NONE ? (this.descriptor as ValueStateDescriptor<unknown>).defaultValue : value;
  }

  update(value: unknown): void {
    if (value === undefined) this.removeValue(this.namespace, this.namespaceId);
    else this.writeValue(this.namespace, this.namespaceId, value);
  }
}
