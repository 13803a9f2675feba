import type { ValueStateDescriptor } from '../descriptors.ts';
import type { ValueState } from '../state.ts';
import { MemoryKvState } from './memory-kv-state.ts';

/** Value state: stores `T`; `update(undefined)` clears (Flink's `update(null)`). */
export class MemoryValueState<N> extends MemoryKvState<N> implements ValueState<unknown> {
  value(): unknown {
    const entry = this.readEntry(this.namespaceId);
    return entry === undefined ? (this.descriptor as ValueStateDescriptor<unknown>).defaultValue : entry.value;
  }

  update(value: unknown): void {
    if (value === undefined) this.removeEntry(this.namespaceId);
    else this.writeEntry(this.namespace, this.namespaceId, value);
  }
}
