import { EddyError } from '../../core/errors.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import type { StateEntrySnapshot } from '../keyed-state-backend.ts';
import { keyGroupBytes, RowKeyBuilder, RowKeyReader } from './key-layout.ts';
import type { RocksStore, RocksWrite } from './rocks-store.ts';
import { mapDirectoryColumnFamily } from './rocksdb-kv-state.ts';
import { decodeRow, encodeRow, scanRowsSync, type DecodedRow } from './state-rows.ts';

/**
 * Conversions between a state's rows and the canonical snapshot entries (`[key, namespace, value,
 * expiresAtMs?]`, map values as `[userKey, value, expiresAtMs?]` lists): reading every row of a state
 * for a snapshot, and turning restored entries into rows.
 */

/** How a state's rows look: one row per (key, namespace) or per user key; with or without an expiry. */
export interface RowForm {
  readonly isMap: boolean;
  readonly hasTtl: boolean;
}

/** The state rows of the key groups of `range`: `[keyGroup(range.start), keyGroup(range.end))`. */
export function rangeBounds(range: KeyGroupRange): { readonly gte: Uint8Array; readonly lt: Uint8Array } {
  return { gte: keyGroupBytes(range.start), lt: keyGroupBytes(range.end) };
}

/**
 * Reads every row of a state within `range` (blocking scans) as snapshot entries, indexed by
 * `keyGroup − range.start`. With `nowMs`, rows expired at `nowMs` are left out and their keys passed to
 * `onExpired` (to delete them: the background TTL cleanup); without it (restored state whose TTL
 * clock is unknown) every row is kept. Returns the entries and the number of scan requests.
 */
export function snapshotRows(
  store: RocksStore,
  columnFamily: string,
  form: RowForm,
  range: KeyGroupRange,
  nowMs: number | undefined,
  stateName: string,
  onExpired: (rowKey: Uint8Array) => void,
): { readonly byKeyGroup: Array<StateEntrySnapshot[] | undefined>; readonly scans: number } {
  const byKeyGroup = new Array<StateEntrySnapshot[] | undefined>(range.size);
  const reader = new RowKeyReader();
  const decoded: DecodedRow = { value: undefined, expiresAtMs: 0 };
  let previousKey: Uint8Array | undefined;
  let pairs: unknown[][] | undefined;
  const { gte, lt } = rangeBounds(range);
  const scans = scanRowsSync(store, columnFamily, gte, lt, (rowKey, value) => {
    reader.readRow(rowKey);
    decodeRow(value, form.hasTtl, decoded, stateName);
    const isExpired = nowMs !== undefined && decoded.expiresAtMs <= nowMs;
    if (isExpired) onExpired(rowKey.slice());
    if (!form.isMap) {
      if (isExpired) return;
      const entries = (byKeyGroup[reader.keyGroup - range.start] ??= []);
      const entry = withExpiry<unknown[]>([reader.key(), reader.namespacePlain(), decoded.value], form.hasTtl, decoded.expiresAtMs);
      entries.push(entry as unknown as StateEntrySnapshot);
      return;
    }
    // Map rows of one map are adjacent: start a new entry when [keyGroup][key][namespace] changes.
    const prefixLength = reader.namespaceEnd;
    if (previousKey === undefined || previousKey.length !== prefixLength || !RowKeyReader.isSamePrefix(previousKey, rowKey, prefixLength)) {
      pairs = [];
      previousKey = rowKey.slice(0, prefixLength);
      const entries = (byKeyGroup[reader.keyGroup - range.start] ??= []);
      entries.push([reader.key(), reader.namespacePlain(), pairs]);
    }
    if (isExpired) return;
    pairs!.push(withExpiry([reader.userKey(), decoded.value], form.hasTtl, decoded.expiresAtMs) as unknown[]);
  });
  if (form.isMap) {
    // Maps whose user keys all expired are left out.
    for (let i = 0; i < byKeyGroup.length; i++) {
      const entries = byKeyGroup[i];
      if (entries === undefined) continue;
      const live = entries.filter((entry) => (entry[2] as unknown[]).length > 0);
      byKeyGroup[i] = live.length === 0 ? undefined : live;
    }
  }
  return { byKeyGroup, scans };
}

function withExpiry<T extends unknown[]>(tuple: T, hasTtl: boolean, expiresAtMs: number): T {
  if (hasTtl && !Number.isNaN(expiresAtMs)) tuple.push(expiresAtMs);
  return tuple;
}

/** How {@link restoredRows} writes the rows of one state. */
export interface RestoreTarget {
  readonly stateName: string;
  readonly columnFamily: string;
  readonly form: RowForm;
  /** The expiry of a TTL row restored without one (NaN: decided when the state is registered). */
  readonly missingExpiryMs: () => number;
  /** Checks one stored value (a map's: one user key's); throws for a bad one. */
  readonly check: (value: unknown, keyGroup: number) => void;
  /** The error for an entry of the wrong shape. */
  readonly corrupt: (what: string, keyGroup: number) => EddyError;
  readonly rowKeys: RowKeyBuilder;
  readonly write: (write: RocksWrite) => void;
}

/**
 * Turns the restored entries of one state in one key group into row writes in the target's form: an
 * entry without an expiry gets `missingExpiryMs()` when the form has a TTL; an expiry is dropped when
 * it has none. Throws for entries of the wrong shape.
 */
export function restoredRows(entries: readonly StateEntrySnapshot[], keyGroup: number, target: RestoreTarget): void {
  const { form, columnFamily, stateName, rowKeys, missingExpiryMs, write, check } = target;
  const corrupt = (what: string): EddyError => target.corrupt(what, keyGroup);
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length < 3) throw corrupt('an entry is not [key, namespace, value]');
    const [key, namespacePlain, value, expiresAtMs] = entry;
    rowKeys.beginRow(keyGroup, key).namespace(namespacePlain);
    if (!form.isMap) {
      check(value, keyGroup);
      const expiry = form.hasTtl ? (expiresAtMs ?? missingExpiryMs()) : Number.POSITIVE_INFINITY;
      write({ kind: 'put', columnFamily, key: rowKeys.copy(), value: encodeRow(value, expiry, form.hasTtl, stateName) });
      continue;
    }
    if (!Array.isArray(value) || value.length === 0) throw corrupt('a map value is not a non-empty array of [key, value] pairs');
    const prefixLength = rowKeys.length;
    for (const pair of value as unknown[]) {
      if (!Array.isArray(pair) || pair.length < 2) throw corrupt('a map entry is not a [key, value] pair');
      check(pair[1], keyGroup);
      const expiry = form.hasTtl ? ((pair[2] as number | undefined) ?? missingExpiryMs()) : Number.POSITIVE_INFINITY;
      const rowKey = rowKeys.truncate(prefixLength).userKey(pair[0]).copy();
      write({ kind: 'put', columnFamily, key: rowKey, value: encodeRow(pair[1], expiry, form.hasTtl, stateName) });
    }
    write({ kind: 'put', columnFamily: mapDirectoryColumnFamily(stateName), key: rowKeys.truncate(prefixLength).copy(), value: new Uint8Array(0) });
  }
}

/** Whether a restored entry carries an expiry (a state snapshotted with TTL). */
export function hasRestoredExpiry(entry: StateEntrySnapshot, isMap: boolean): boolean {
  if (!isMap) return entry[3] !== undefined;
  const pairs = entry[2];
  return Array.isArray(pairs) && Array.isArray(pairs[0]) && (pairs[0] as unknown[]).length > 2;
}
