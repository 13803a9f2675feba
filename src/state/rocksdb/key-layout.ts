import { EddyError } from '../../core/errors.ts';
import { KeyReader, KeyWriter, readKey, writeKey, type KeyValue } from '../../core/key-codec.ts';

/**
 * The byte layout of RocksDB keys (varints are unsigned LEB128, as in the canonical key encoding):
 *
 * - state row: `[keyGroup u16 BE][varint n][n bytes: canonical key][varint m][m bytes: namespace][user key]`
 *   where the namespace bytes are the canonical encoding of `namespaceCodec.toPlain(namespace)`, except
 *   that the plain form `0` (VOID_NAMESPACE: state outside windows) takes no bytes (m = 0), and the user
 *   key (map state only) is the canonical encoding of the map key.
 * - timer row: `[timestamp: 8 sortable bytes][keyGroup u16 BE][varint n][key][varint m][namespace]`, empty value.
 *
 * Because key and namespace are length-prefixed, `[keyGroup][key]` and `[keyGroup][key][namespace]` are
 * prefixes of exactly the rows of that key (and namespace): a prefix scan never picks up another key
 * whose encoding happens to start with the same bytes. Rows sort by key group first, so a key group is
 * one contiguous range (what a rescaled restore drops or keeps), and timers sort by timestamp, then key
 * group, then key and namespace bytes: the firing order.
 */

/** A key group as the first two bytes of every state row. Key groups are < 32768. */
export function keyGroupBytes(keyGroup: number): Uint8Array {
  return Uint8Array.of(keyGroup >>> 8, keyGroup & 0xff);
}

/** Bytes that sort after every state row (key groups are < 0x8000). */
export const STATE_ROWS_END = Uint8Array.of(0x80);
/** Bytes that sort after every timer row (the largest sortable timestamp starts with 0xfff0). */
export const TIMER_ROWS_END = Uint8Array.of(0xff, 0xff);
/** Sorts before every row. */
export const ROWS_START = new Uint8Array(0);

/**
 * The smallest byte string greater than every string that starts with `prefix` (the exclusive end of
 * a prefix scan): the prefix with its last byte below 0xff incremented and what follows dropped.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]!++;
      return end;
    }
  }
  throw new EddyError('RocksDB state: a scan prefix of only 0xff bytes has no end (no row key starts like that)');
}

/** The smallest byte string greater than `bytes`: `bytes` followed by 0x00 (resumes a scan after it). */
export function successor(bytes: Uint8Array): Uint8Array {
  const next = new Uint8Array(bytes.length + 1);
  next.set(bytes);
  return next;
}

/**
 * Builds row keys in one reused buffer: {@link beginRow} ▶ {@link namespace} ▶ (map state)
 * {@link userKey}, then {@link copy} or {@link latin1}. The canonical encoding of the key is kept
 * between rows of the same key (building the rows of many states or user keys of one key encodes it
 * once).
 */
export class RowKeyBuilder {
  private readonly out = new KeyWriter(128);
  private readonly keyScratch = new KeyWriter(64);
  private readonly namespaceScratch = new KeyWriter(64);
  private encodedKey: unknown = undefined;
  private hasEncodedKey = false;

  /** Starts a state row (or a prefix) of `key` in `keyGroup`. */
  beginRow(keyGroup: number, key: unknown): this {
    const out = this.out;
    out.reset();
    out.ensure(2);
    out.bytes[0] = keyGroup >>> 8;
    out.bytes[1] = keyGroup & 0xff;
    out.length = 2;
    this.appendLengthPrefixed(key);
    return this;
  }

  /**
   * Starts a timer row: the timestamp as 8 bytes that sort like the numbers (IEEE 754 with the sign
   * bit flipped for positives and all bits flipped for negatives; −0 as 0), then key group and key.
   */
  beginTimer(timestampMs: number, keyGroup: number, key: unknown): this {
    const out = this.out;
    out.reset();
    out.ensure(10);
    writeSortableTimestamp(out.bytes, out.view, 0, timestampMs);
    out.bytes[8] = keyGroup >>> 8;
    out.bytes[9] = keyGroup & 0xff;
    out.length = 10;
    this.appendLengthPrefixed(key);
    return this;
  }

  /**
   * Appends the namespace: `plain` (the codec's plain form) canonically encoded and length-prefixed —
   * except `0`, the plain form of VOID_NAMESPACE, which takes no bytes (m = 0). The rule does not depend
   * on the codec, so rows can be written (restored) before their state is registered.
   */
  namespace(plain: unknown): this {
    if (plain === 0) this.out.byte(0);
    else this.appendLengthPrefixed(plain, false);
    return this;
  }

  /** Appends a map state's user key (canonical encoding, not length-prefixed: it ends the row key). */
  userKey(userKey: unknown): this {
    writeKey(this.out, userKey);
    return this;
  }

  /** Cuts the bytes built back to `length` (a row prefix, to append another user key). */
  truncate(length: number): this {
    this.out.length = length;
    return this;
  }

  /** The bytes built so far, as a fresh array. */
  copy(): Uint8Array {
    return this.out.toBytes();
  }

  /** The bytes built so far as a latin1 string (one char per byte): compares like the bytes. */
  latin1(): string {
    return latin1(this.out.bytes, 0, this.out.length);
  }

  get length(): number {
    return this.out.length;
  }

  /** Canonical encoding of `value`, length-prefixed. A primitive key's encoding is kept for the next row. */
  private appendLengthPrefixed(value: unknown, isKey = true): void {
    let scratch: KeyWriter;
    if (isKey) {
      scratch = this.keyScratch;
      if (!this.hasEncodedKey || !Object.is(this.encodedKey, value)) {
        scratch.reset();
        writeKey(scratch, value);
        // Only primitives are remembered: an object key could change between rows.
        this.hasEncodedKey = value === null || typeof value !== 'object';
        this.encodedKey = this.hasEncodedKey ? value : undefined;
      }
    } else {
      scratch = this.namespaceScratch;
      scratch.reset();
      writeKey(scratch, value);
    }
    const out = this.out;
    out.varint(scratch.length);
    out.ensure(scratch.length);
    out.bytes.set(scratch.bytes.subarray(0, scratch.length), out.length);
    out.length += scratch.length;
  }
}

/** `bytes[start, end)` as a latin1 string (one char per byte; compares like the bytes). */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/** Writes `timestampMs` as 8 bytes at `at` that compare bytewise like the numbers compare. */
export function writeSortableTimestamp(bytes: Uint8Array, view: DataView, at: number, timestampMs: number): void {
  if (timestampMs !== timestampMs) throw new EddyError('a timer timestamp cannot be NaN');
  view.setFloat64(at, timestampMs === 0 ? 0 : timestampMs);
  if ((bytes[at]! & 0x80) === 0) {
    bytes[at]! ^= 0x80;
  } else {
    for (let i = at; i < at + 8; i++) bytes[i] = ~bytes[i]! & 0xff;
  }
}

const timestampBytes = new Uint8Array(8);
const timestampView = new DataView(timestampBytes.buffer);

/** Inverse of {@link writeSortableTimestamp}. */
export function readSortableTimestamp(bytes: Uint8Array, at: number): number {
  timestampBytes.set(bytes.subarray(at, at + 8));
  if ((timestampBytes[0]! & 0x80) !== 0) {
    timestampBytes[0]! ^= 0x80;
  } else {
    for (let i = 0; i < 8; i++) timestampBytes[i] = ~timestampBytes[i]! & 0xff;
  }
  return timestampView.getFloat64(0);
}

/**
 * Splits stored row keys into their parts; the parts are decoded on demand ({@link key},
 * {@link namespacePlain}, {@link userKey}). One instance is reused across rows.
 */
export class RowKeyReader {
  keyGroup = 0;
  /** Timer rows only. */
  timestampMs = 0;
  bytes: Uint8Array = ROWS_START;
  keyStart = 0;
  keyEnd = 0;
  namespaceStart = 0;
  namespaceEnd = 0;
  private readonly reader = new KeyReader(ROWS_START);

  /** Reads the layout of a state row. Throws an EddyError for bytes that are no row key. */
  readRow(bytes: Uint8Array): this {
    if (bytes.length < 4) throw corruptRow(bytes);
    this.bytes = bytes;
    this.keyGroup = (bytes[0]! << 8) | bytes[1]!;
    this.readParts(2);
    return this;
  }

  /** Reads the layout of a timer row. */
  readTimer(bytes: Uint8Array): this {
    if (bytes.length < 12) throw corruptRow(bytes);
    this.bytes = bytes;
    this.timestampMs = readSortableTimestamp(bytes, 0);
    this.keyGroup = (bytes[8]! << 8) | bytes[9]!;
    this.readParts(10);
    return this;
  }

  key(): KeyValue {
    return this.decode(this.keyStart, this.keyEnd);
  }

  /** The namespace as plain data (0 when it takes no bytes: VOID_NAMESPACE). */
  namespacePlain(): KeyValue {
    return this.namespaceStart === this.namespaceEnd ? 0 : this.decode(this.namespaceStart, this.namespaceEnd);
  }

  /** Map state rows: the user key after the namespace. */
  userKey(): KeyValue {
    return this.decode(this.namespaceEnd, this.bytes.length);
  }

  /** Whether the row's `[keyGroup][key][namespace]` equals that of the row read before (map rows of one map). */
  static isSamePrefix(a: Uint8Array, b: Uint8Array, prefixLength: number): boolean {
    if (a.length < prefixLength || b.length < prefixLength) return false;
    for (let i = prefixLength - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
    return true;
  }

  private readParts(start: number): void {
    const reader = this.reader;
    reader.bytes = this.bytes;
    reader.end = this.bytes.length;
    reader.offset = start;
    const keyLength = reader.varint();
    this.keyStart = reader.offset;
    reader.skip(keyLength);
    this.keyEnd = reader.offset;
    const namespaceLength = reader.varint();
    this.namespaceStart = reader.offset;
    reader.skip(namespaceLength);
    this.namespaceEnd = reader.offset;
  }

  private decode(start: number, end: number): KeyValue {
    const reader = this.reader;
    reader.bytes = this.bytes;
    reader.offset = start;
    reader.end = end;
    const value = readKey(reader);
    if (reader.offset !== end) throw corruptRow(this.bytes);
    return value;
  }
}

function corruptRow(bytes: Uint8Array): EddyError {
  const hex = Buffer.from(bytes).toString('hex');
  return new EddyError(`RocksDB state: row key ${hex} does not follow the key layout; the database is corrupt`);
}
