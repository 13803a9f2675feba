import type { ListState } from '../state.ts';
import type { StateEntry } from './memory-kv-state.ts';
import { MemoryKvState } from './memory-kv-state.ts';

/**
 * List state: stores a non-empty `T[]` owned by the state (inputs are copied in, `get` copies out).
 * TTL applies to the whole list (Flink expires list elements one by one): every write refreshes the
 * list's expiry, and an expired list is dropped as a whole.
 */
export class MemoryListState<N> extends MemoryKvState<N> implements ListState<unknown> {
  get(): unknown[] {
    const entry = this.readEntry(this.namespaceId);
    return entry === undefined ? [] : (entry.value as unknown[]).slice();
  }

  add(value: unknown): void {
    const entry = this.readEntry(this.namespaceId);
    this.append(entry, value);
  }

  addAll(values: readonly unknown[]): void {
    if (values.length === 0) return;
    const entry = this.readEntry(this.namespaceId);
    if (entry === undefined) {
      this.writeEntry(this.namespace, this.namespaceId, values.slice());
      return;
    }
    const list = entry.value as unknown[];
    for (let i = 0; i < values.length; i++) list.push(values[i]);
    this.writeEntryTo(entry, this.namespace, this.namespaceId, list);
  }

  update(values: readonly unknown[]): void {
    if (values.length === 0) this.removeEntry(this.namespaceId);
    else this.writeEntry(this.namespace, this.namespaceId, values.slice());
  }

  protected override checkCanMerge(): void {}

  protected override mergeValues(a: unknown, b: unknown): unknown {
    const target = a as unknown[];
    const source = b as unknown[];
    for (let i = 0; i < source.length; i++) target.push(source[i]);
    return target;
  }

  protected override validateRestored(value: unknown, keyGroup: number, operatorUid: string): void {
    if (!Array.isArray(value) || value.length === 0) throw this.corrupt(keyGroup, operatorUid, 'a list value is not a non-empty array');
    for (const element of value) this.checkSchema(element, keyGroup, operatorUid, 'list element ');
  }

  private append(entry: StateEntry | undefined, value: unknown): void {
    if (entry === undefined) {
      this.writeEntry(this.namespace, this.namespaceId, [value]);
      return;
    }
    const list = entry.value as unknown[];
    list.push(value);
    this.writeEntryTo(entry, this.namespace, this.namespaceId, list);
  }
}
