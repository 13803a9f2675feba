import { EddyError, describeError } from '../../core/errors.ts';
import { decodeStateValue, encodeStateValue } from '../state-value-codec.ts';
import type { RocksEntries, RocksStore } from './rocks-store.ts';

/**
 * Row values: msgpack ({@link encodeStateValue}) of the stored value, or of `[expiresAtMs, value]` when
 * the state has a TTL (for map state: per user key). The form is fixed per state and recorded nowhere
 * in the row: the backend knows it from the descriptor (or, for restored state not registered yet,
 * from the snapshot), and rewrites rows when a state's TTL setting changed across a restore.
 */

/** A decoded row value; reused by the caller across rows. */
export interface DecodedRow {
  value: unknown;
  /**
   * +∞ for rows without TTL; NaN for a TTL row restored from a snapshot taken without TTL, before its
   * state was registered (`[null, value]`: the registration gives it a fresh expiry).
   */
  expiresAtMs: number;
}

/** Encodes a row value in the form of a state with (`hasTtl`) or without TTL. Throws naming the state. */
export function encodeRow(value: unknown, expiresAtMs: number, hasTtl: boolean, stateName: string): Uint8Array {
  try {
    return encodeStateValue(hasTtl ? [Number.isNaN(expiresAtMs) ? null : expiresAtMs, value] : value);
  } catch (error) {
    throw new EddyError(
      `state '${stateName}' holds a value that cannot be stored (${describeError(error)}); state values must be plain data ` +
        '(no functions, symbols or class instances with behaviour)',
      { domain: 'user', cause: error },
    );
  }
}

/** Decodes a row value into `out`. Throws an EddyError when a TTL row is not `[expiresAtMs, value]`. */
export function decodeRow(bytes: Uint8Array, hasTtl: boolean, out: DecodedRow, stateName: string): DecodedRow {
  const decoded = decodeStateValue(bytes);
  if (!hasTtl) {
    out.value = decoded;
    out.expiresAtMs = Number.POSITIVE_INFINITY;
    return out;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || (typeof decoded[0] !== 'number' && decoded[0] !== null)) {
    throw new EddyError(
      `state '${stateName}': a stored row is not [expiresAtMs, value] although the state has a TTL; the database is corrupt`,
    );
  }
  out.value = decoded[1];
  out.expiresAtMs = decoded[0] === null ? Number.NaN : (decoded[0] as number);
  return out;
}

/** Rows per blocking scan request of whole-state work (snapshots, key listing, validation). */
export const SCAN_CHUNK_ROWS = 4096;

/**
 * Visits every row of `columnFamily` in `[gte, lt)` in key order, in blocking chunks of
 * {@link SCAN_CHUNK_ROWS}. `visit` sees views into the answer: copy what it keeps as bytes.
 * Returns the number of scan requests made.
 */
export function scanRowsSync(
  store: RocksStore,
  columnFamily: string,
  gte: Uint8Array,
  lt: Uint8Array,
  visit: (key: Uint8Array, value: Uint8Array) => void,
): number {
  let from = gte;
  let requests = 0;
  for (;;) {
    const chunk: RocksEntries = store.scanSync({ columnFamily, gte: from, lt, limit: SCAN_CHUNK_ROWS });
    requests++;
    const { keys, values } = chunk;
    for (let i = 0; i < keys.length; i++) visit(keys[i]!, values[i]!);
    if (keys.length < SCAN_CHUNK_ROWS) return requests;
    const last = keys[keys.length - 1]!;
    from = new Uint8Array(last.length + 1);
    from.set(last);
  }
}
