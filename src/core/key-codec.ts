import { ConfigurationError, EddyError } from './errors.ts';

/**
 * The canonical byte encoding of keys.
 *
 * Keys are what `keyBy` returns: a string, a number, a bigint, a boolean, null, or an array / plain
 * object of those (a composite key). Every key has exactly one encoding, so equal keys hash to the same
 * key group in every process and every version; the encoding is part of the checkpoint format and must
 * never change. It is *not* msgpack: msgpack lets an encoder choose between representations.
 *
 * Layout (big-endian, lengths as unsigned LEB128 varints):
 * - `0x00` null
 * - `0x01` false, `0x02` true
 * - `0x10` integer number in the safe range: 8-byte two's complement (−0 is 0)
 * - `0x11` other number: IEEE 754 float64 (NaN canonicalised)
 * - `0x12` bigint: sign byte (0 ≥ 0, 1 < 0), varint length, magnitude bytes
 * - `0x20` string: varint UTF-8 byte length, UTF-8 bytes
 * - `0x30` array: varint element count, then each element
 * - `0x40` plain object: varint entry count, then entries sorted by property name (UTF-16 code unit
 *   order), each a string name (as `0x20`) followed by the value; `undefined` properties are skipped
 */
export type KeyValue = string | number | bigint | boolean | null | readonly KeyValue[] | { readonly [name: string]: KeyValue };

const encoder = new TextEncoder();

/** A growable byte writer reused across keys so that encoding a key allocates nothing in steady state. */
export class KeyWriter {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(initialCapacity = 256) {
    this.bytes = new Uint8Array(initialCapacity);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): void {
    this.length = 0;
  }

  ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  byte(value: number): void {
    this.ensure(1);
    this.bytes[this.length++] = value;
  }

  varint(value: number): void {
    this.ensure(10);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.bytes[this.length++] = rest;
  }

  string(value: string): void {
    if (value.length <= SHORT_STRING_LENGTH) {
      this.shortString(value);
      return;
    }
    // UTF-8 needs at most 3 bytes per UTF-16 code unit.
    const max = value.length * 3;
    this.ensure(max + 10);
    // Reserve the length prefix after encoding: encode at a provisional offset, then shift if needed.
    const start = this.length;
    const prefixGuess = varintSize(max);
    const { written } = encoder.encodeInto(value, this.bytes.subarray(start + prefixGuess));
    const prefix = varintSize(written);
    if (prefix !== prefixGuess) {
      this.bytes.copyWithin(start + prefix, start + prefixGuess, start + prefixGuess + written);
    }
    this.varint(written);
    this.length = start + prefix + written;
  }

  /**
   * `string` for short strings (most keys), encoded here rather than by `TextEncoder.encodeInto`, whose
   * per-call cost (a subarray, a call into C++) dominates for a few bytes. Produces exactly the bytes
   * `TextEncoder` does — a lone surrogate becomes U+FFFD (EF BF BD) — in two passes: the UTF-8 length
   * (the prefix), then the bytes.
   */
  private shortString(value: string): void {
    const length = value.length;
    let utf8Length = 0;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code < 0x80) utf8Length += 1;
      else if (code < 0x800) utf8Length += 2;
      else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length && isLowSurrogate(value.charCodeAt(i + 1))) {
        utf8Length += 4;
        i++;
      } else utf8Length += 3;
    }
    this.varint(utf8Length);
    this.ensure(utf8Length);
    const bytes = this.bytes;
    let at = this.length;
    if (utf8Length === length) {
      for (let i = 0; i < length; i++) bytes[at++] = value.charCodeAt(i);
    } else {
      for (let i = 0; i < length; i++) {
        let code = value.charCodeAt(i);
        if (code < 0x80) {
          bytes[at++] = code;
        } else if (code < 0x800) {
          bytes[at++] = 0xc0 | (code >> 6);
          bytes[at++] = 0x80 | (code & 0x3f);
        } else if (code >= 0xd800 && code <= 0xdbff && i + 1 < length && isLowSurrogate(value.charCodeAt(i + 1))) {
          code = 0x10000 + ((code - 0xd800) << 10) + (value.charCodeAt(++i) - 0xdc00);
          bytes[at++] = 0xf0 | (code >> 18);
          bytes[at++] = 0x80 | ((code >> 12) & 0x3f);
          bytes[at++] = 0x80 | ((code >> 6) & 0x3f);
          bytes[at++] = 0x80 | (code & 0x3f);
        } else {
          if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd; // a lone surrogate
          bytes[at++] = 0xe0 | (code >> 12);
          bytes[at++] = 0x80 | ((code >> 6) & 0x3f);
          bytes[at++] = 0x80 | (code & 0x3f);
        }
      }
    }
    this.length = at;
  }

  /** Copies the written bytes out. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Strings up to this many UTF-16 code units are encoded by {@link KeyWriter.shortString}. */
const SHORT_STRING_LENGTH = 64;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function varintSize(value: number): number {
  let size = 1;
  let rest = value;
  while (rest >= 0x80) {
    size++;
    rest = Math.floor(rest / 128);
  }
  return size;
}

/** Appends the canonical encoding of `key` to `writer`. Throws a {@link ConfigurationError} for unsupported keys. */
export function writeKey(writer: KeyWriter, key: unknown): void {
  switch (typeof key) {
    case 'string':
      writer.byte(0x20);
      writer.string(key);
      return;
    case 'number':
      if (Number.isSafeInteger(key)) {
        writer.byte(0x10);
        writer.ensure(8);
        writer.view.setBigInt64(writer.length, BigInt(key === 0 ? 0 : key));
      } else {
        writer.byte(0x11);
        writer.ensure(8);
        writer.view.setFloat64(writer.length, Number.isNaN(key) ? Number.NaN : key);
      }
      writer.length += 8;
      return;
    case 'boolean':
      writer.byte(key ? 0x02 : 0x01);
      return;
    case 'bigint': {
      writer.byte(0x12);
      writer.byte(key < 0n ? 1 : 0);
      let magnitude = key < 0n ? -key : key;
      const digits: number[] = [];
      while (magnitude > 0n) {
        digits.push(Number(magnitude & 0xffn));
        magnitude >>= 8n;
      }
      writer.varint(digits.length);
      writer.ensure(digits.length);
      for (let i = digits.length - 1; i >= 0; i--) writer.bytes[writer.length++] = digits[i]!;
      return;
    }
    case 'object': {
      if (key === null) {
        writer.byte(0x00);
        return;
      }
      if (Array.isArray(key)) {
        writer.byte(0x30);
        writer.varint(key.length);
        for (const element of key) writeKey(writer, element);
        return;
      }
      const proto: unknown = Object.getPrototypeOf(key);
      if (proto === Object.prototype || proto === null) {
        const record = key as Record<string, unknown>;
        const names = Object.keys(record)
          .filter((name) => record[name] !== undefined)
          .sort();
        writer.byte(0x40);
        writer.varint(names.length);
        for (const name of names) {
          writer.byte(0x20);
          writer.string(name);
          writeKey(writer, record[name]);
        }
        return;
      }
      break;
    }
    default:
      break;
  }
  throw new ConfigurationError(
    `a key must be a string, number, bigint, boolean, null, or an array or plain object of those; got ${describeKey(key)}. ` +
      'Return such a value from your keyBy selector.',
  );
}

function describeKey(key: unknown): string {
  if (key === undefined) return 'undefined';
  if (typeof key === 'object' && key !== null) return `an instance of ${key.constructor?.name ?? 'an unknown class'}`;
  return typeof key;
}

const sharedWriter = new KeyWriter();

/** The canonical bytes of a key (a fresh copy). */
export function encodeKey(key: unknown): Uint8Array {
  sharedWriter.reset();
  writeKey(sharedWriter, key);
  return sharedWriter.toBytes();
}

/**
 * A primitive that identifies a key in a JavaScript `Map`: strings, numbers, booleans and bigints are
 * their own id; composite keys (arrays, objects) and strings that begin with U+0001 become a string
 * that begins with U+0001, so no two distinct keys share an id.
 */
export type KeyId = string | number | boolean | bigint | null;

/** The {@link KeyId} of a key. Primitives are O(1); composite keys cost one canonical encoding. */
export function keyIdOf(key: unknown): KeyId {
  switch (typeof key) {
    case 'string':
      return key.length > 0 && key.charCodeAt(0) === 1 ? `\u0001s${key}` : key;
    case 'number':
      return key === 0 ? 0 : key; // -0 and 0 are one key
    case 'boolean':
    case 'bigint':
      return key;
    default: {
      if (key === null) return null;
      sharedWriter.reset();
      writeKey(sharedWriter, key);
      return `\u0001c${Buffer.from(sharedWriter.bytes.buffer, 0, sharedWriter.length).toString('latin1')}`;
    }
  }
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const floatBytes = new Uint8Array(8);
const floatView = new DataView(floatBytes.buffer);

/**
 * Reads canonical key encodings back (the RocksDB backend stores keys in this form and needs them as
 * values again for snapshots, timers and `getKeys`). `offset` advances past what each read consumed.
 */
export class KeyReader {
  bytes: Uint8Array;
  offset: number;
  /** Where the readable bytes end (exclusive). */
  end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    this.bytes = bytes;
    this.offset = offset;
    this.end = end;
  }

  byte(): number {
    if (this.offset >= this.end) throw truncated(this.offset);
    return this.bytes[this.offset++]!;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 56) throw new EddyError(`canonical key: varint at offset ${this.offset} is too long`);
    }
  }

  /** A varint length prefix followed by that many UTF-8 bytes. */
  string(): string {
    const length = this.varint();
    const start = this.offset;
    this.skip(length);
    const bytes = this.bytes;
    // ASCII (most keys and property names) without a call into TextDecoder.
    if (length <= SHORT_STRING_LENGTH) {
      let text = '';
      for (let i = start; i < start + length; i++) {
        const byte = bytes[i]!;
        if (byte >= 0x80) return decoder.decode(bytes.subarray(start, start + length));
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return decoder.decode(bytes.subarray(start, start + length));
  }

  skip(length: number): void {
    if (this.offset + length > this.end) throw truncated(this.offset);
    this.offset += length;
  }
}

function truncated(offset: number): EddyError {
  return new EddyError(`canonical key: truncated at offset ${offset}; the stored key bytes are corrupt`);
}

/**
 * Reads one canonically encoded key at `reader.offset` — the exact inverse of {@link writeKey}: for
 * every {@link KeyValue} `k`, `readKey(encodeKey(k))` deep-equals `k`, except that −0 reads back as 0,
 * every NaN as the canonical NaN, and a lone surrogate as U+FFFD (as they were written). Plain objects
 * come back with their properties in name order. Throws an EddyError on bytes no key encodes to.
 */
export function readKey(reader: KeyReader): KeyValue {
  const tag = reader.byte();
  switch (tag) {
    case 0x00:
      return null;
    case 0x01:
      return false;
    case 0x02:
      return true;
    case 0x10: {
      reader.skip(8);
      const bytes = reader.bytes;
      const at = reader.offset - 8;
      // A safe integer: high word signed, low word unsigned; hi·2³² + lo is exact in that range.
      const high = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
      const low = ((bytes[at + 4]! << 24) | (bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!) >>> 0;
      return high * 4_294_967_296 + low;
    }
    case 0x11: {
      reader.skip(8);
      floatBytes.set(reader.bytes.subarray(reader.offset - 8, reader.offset));
      return floatView.getFloat64(0);
    }
    case 0x12: {
      const isNegative = reader.byte() === 1;
      const length = reader.varint();
      let magnitude = 0n;
      for (let i = 0; i < length; i++) magnitude = (magnitude << 8n) | BigInt(reader.byte());
      return isNegative ? -magnitude : magnitude;
    }
    case 0x20:
      return reader.string();
    case 0x30: {
      const count = reader.varint();
      const elements: KeyValue[] = [];
      for (let i = 0; i < count; i++) elements.push(readKey(reader));
      return elements;
    }
    case 0x40: {
      const count = reader.varint();
      const record: Record<string, KeyValue> = {};
      for (let i = 0; i < count; i++) {
        if (reader.byte() !== 0x20) throw new EddyError(`canonical key: property name expected at offset ${reader.offset - 1}`);
        const name = reader.string();
        const value = readKey(reader);
        // Own data property even for '__proto__' (plain assignment would set the prototype).
        if (name === '__proto__') Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
        else record[name] = value;
      }
      return record;
    }
    default:
      throw new EddyError(
        `canonical key: unknown tag 0x${tag.toString(16)} at offset ${reader.offset - 1}; the stored key bytes are corrupt`,
      );
  }
}

/** The key encoded in `bytes[start, end)` (the whole range must be one key); see {@link readKey}. */
export function decodeKey(bytes: Uint8Array, start = 0, end = bytes.length): KeyValue {
  const reader = new KeyReader(bytes, start, end);
  const key = readKey(reader);
  if (reader.offset !== end) throw new EddyError(`canonical key: ${end - reader.offset} trailing bytes after the key`);
  return key;
}
