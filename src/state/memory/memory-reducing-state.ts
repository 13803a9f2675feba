import type { ReducingStateDescriptor } from '../descriptors.ts';
import type { ReducingState } from '../state.ts';
import { MemoryKvState } from './memory-kv-state.ts';

/** Reducing state: stores the running `reduce(current, added)`. */
export class MemoryReducingState<N> extends MemoryKvState<N> implements ReducingState<unknown> {
  get(): unknown {
    return this.readEntry(this.namespaceId)?.value;
  }

  add(value: unknown): void {
    const entry = this.readEntry(this.namespaceId);
    const reduced = entry === undefined ? value : this.reduce(entry.value, value);
    this.writeEntryTo(entry, this.namespace, this.namespaceId, reduced);
  }

  protected override checkCanMerge(): void {}

  protected override mergeValues(a: unknown, b: unknown): unknown {
    return this.reduce(a, b);
  }

  private reduce(a: unknown, b: unknown): unknown {
    return (this.descriptor as ReducingStateDescriptor<unknown>).reduce(a, b);
  }
}
