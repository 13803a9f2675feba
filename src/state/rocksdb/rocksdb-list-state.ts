import type { ListState } from '../state.ts';
import { NONE, RocksRowState } from './rocksdb-row-state.ts';

/**
 * List state in RocksDB: one row per (key, namespace) holding the whole non-empty list as one msgpack
 * array. rocksdb-native exposes no merge operator, so `add` is a read-modify-write — of the cached,
 * decoded list (an array push); the list is encoded when it is written back. Inputs are copied in,
 * `get` copies out. TTL applies to the whole list, refreshed by every write (as in the memory backend).
 */
export class RocksListState<N> extends RocksRowState<N> implements ListState<unknown> {
  get(): unknown[] {
    const value = this.readValue(this.namespace, this.namespaceId);
    return value === NONE ? [] : (value as unknown[]).slice();
  }

  add(value: unknown): void {
    const list = this.readValue(this.namespace, this.namespaceId);
    if (list === NONE) {
      this.writeValue(this.namespace, this.namespaceId, [value]);
      return;
    }
    (list as unknown[]).push(value);
    this.writeValue(this.namespace, this.namespaceId, list);
  }

  addAll(values: readonly unknown[]): void {
    if (values.length === 0) return;
    const list = this.readValue(this.namespace, this.namespaceId);
    if (list === NONE) {
      this.writeValue(this.namespace, this.namespaceId, values.slice());
      return;
    }
    const stored = list as unknown[];
    for (let i = 0; i < values.length; i++) stored.push(values[i]);
    this.writeValue(this.namespace, this.namespaceId, stored);
  }

  update(values: readonly unknown[]): void {
    if (values.length === 0) this.removeValue(this.namespace, this.namespaceId);
    else this.writeValue(this.namespace, this.namespaceId, values.slice());
  }

  protected override checkCanMerge(): void {}

  protected override mergeValues(a: unknown, b: unknown): unknown {
    const target = a as unknown[];
    const source = b as unknown[];
    for (let i = 0; i < source.length; i++) target.push(source[i]);
    return target;
  }

  override validateStored(value: unknown, keyGroup: number): void {
    if (!Array.isArray(value) || value.length === 0) {
      throw this.corrupt(keyGroup, 'a list value is not a non-empty array');
    }
    for (const element of value) this.checkSchema(element, keyGroup, 'list element ');
  }
}
