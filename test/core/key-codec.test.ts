import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { decodeKey, encodeKey, keyIdOf, KeyReader, readKey } from '../../src/core/key-codec.ts';
import { EddyError } from '../../src/core/errors.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** A canonical text form of a key, written independently of the codec: equal keys ⇔ equal text. */
function canonicalText(key: unknown): string {
  if (key === null) return 'null';
  switch (typeof key) {
    case 'string':
      return `s${JSON.stringify(key)}`;
    case 'number':
      return Number.isNaN(key) ? 'nNaN' : `n${key === 0 ? 0 : key}`;
    case 'bigint':
      return `b${key}`;
    case 'boolean':
      return `${key}`;
    default:
      break;
  }
  if (Array.isArray(key)) return `[${key.map(canonicalText).join(',')}]`;
  const record = key as Record<string, unknown>;
  const names = Object.keys(record)
    .filter((name) => record[name] !== undefined)
    .sort();
  return `{${names.map((name) => `${JSON.stringify(name)}:${canonicalText(record[name])}`).join(',')}}`;
}

const scalarKey = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('', '1', '\u0001', '\u0001c', '\u0001s1', 'é', '😀'),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0, -0, 1, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1.5, -1.5, Number.NaN, Infinity, -Infinity),
  fc.double(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom(0n, 1n, -1n),
  fc.boolean(),
  fc.constant(null),
);

const { key: anyKey } = fc.letrec<{ key: unknown }>((tie) => ({
  key: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarKey,
    fc.array(tie('key'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c', ''), tie('key'), { maxKeys: 3 }),
  ),
}));

describe('canonical key encoding', () => {
  it('pins the byte layout of each kind', () => {
    expect(hex(encodeKey(null))).toBe('00');
    expect(hex(encodeKey(false))).toBe('01');
    expect(hex(encodeKey(true))).toBe('02');
    expect(hex(encodeKey(1))).toBe('100000000000000001');
    expect(hex(encodeKey(-1))).toBe('10ffffffffffffffff');
    expect(hex(encodeKey(1.5))).toBe('113ff8000000000000');
    expect(hex(encodeKey(258n))).toBe('1200020102');
    expect(hex(encodeKey(-1n))).toBe('12010101');
    expect(hex(encodeKey('a'))).toBe('200161');
    expect(hex(encodeKey([1, 'a']))).toBe('3002100000000000000001200161');
    expect(hex(encodeKey({ b: true, a: null }))).toBe('40022001610020016202');
  });

  it('encodes -0 as 0, and every NaN alike', () => {
    expect(hex(encodeKey(-0))).toBe(hex(encodeKey(0)));
    expect(hex(encodeKey([-0]))).toBe(hex(encodeKey([0])));
    expect(hex(encodeKey(Number.NaN))).toBe(hex(encodeKey(0 / 0)));
    expect(keyIdOf(-0)).toBe(keyIdOf(0));
  });

  it('ignores object property order and undefined properties', () => {
    expect(hex(encodeKey({ a: 1, b: [2, { y: 1, x: 2 }] }))).toBe(hex(encodeKey({ b: [2, { x: 2, y: 1 }], a: 1 })));
    expect(hex(encodeKey({ a: 1, c: undefined } as unknown as object))).toBe(hex(encodeKey({ a: 1 })));
    expect(keyIdOf({ a: 1, b: 2 })).toBe(keyIdOf({ b: 2, a: 1 }));
  });

  it('keeps distinct keys distinct', () => {
    const pairs: Array<[unknown, unknown]> = [
      ['1', 1],
      [1, 1n],
      [1, 1.5],
      [[1, 2], [[1], 2]],
      [[1, 2], [1, [2]]],
      [['ab'], ['a', 'b']],
      [[], {}],
      ['', null],
      [false, 0],
      [{ a: 1 }, [['a', 1]]],
      ['\u0001c', ['c']],
    ];
    for (const [a, b] of pairs) {
      expect(hex(encodeKey(a)), `${canonicalText(a)} vs ${canonicalText(b)}`).not.toBe(hex(encodeKey(b)));
      expect(keyIdOf(a)).not.toBe(keyIdOf(b));
    }
  });

  it('rejects unsupported keys with a sentence naming the rule and the fix', () => {
    for (const bad of [undefined, () => 1, Symbol('s'), new Date(0), new Map(), [1, undefined], { a: new Set() }]) {
      expect(() => encodeKey(bad)).toThrow(ConfigurationError);
    }
    expect(() => encodeKey(new Date(0))).toThrow(/a key must be a string, number.*got an instance of Date.*keyBy/);
    expect(() => encodeKey(undefined)).toThrow(/got undefined/);
    expect(() => keyIdOf([new Map()])).toThrow(ConfigurationError);
  });

  it('law: encoding and key ids are injective — equal bytes exactly when the keys are canonically equal', () => {
    fc.assert(
      fc.property(fc.array(anyKey, { minLength: 2, maxLength: 12 }), (keys) => {
        const byText = new Map<string, string>();
        const idToText = new Map<unknown, string>();
        for (const key of keys) {
          const text = canonicalText(key);
          const bytes = hex(encodeKey(key));
          const known = byText.get(text);
          if (known !== undefined) expect(bytes).toBe(known);
          byText.set(text, bytes);
          const id = keyIdOf(key);
          const idText = idToText.get(id);
          if (idText !== undefined) expect(idText).toBe(text);
          idToText.set(id, text);
        }
        // Distinct canonical texts ⇔ distinct encodings.
        expect(new Set(byText.values()).size).toBe(byText.size);
      }),
      { numRuns: 500 },
    );
  });

  it('law: a key and its structural copy encode identically', () => {
    fc.assert(
      fc.property(anyKey, (key) => {
        const copy = structuredClone(key);
        expect(hex(encodeKey(copy))).toBe(hex(encodeKey(key)));
        expect(keyIdOf(copy)).toBe(keyIdOf(key));
      }),
    );
  });
});

describe('string keys', () => {
  function varint(value: number): number[] {
    const bytes: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      bytes.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(rest);
    return bytes;
  }

  it('encode as 0x20, the varint of the UTF-8 length, then the bytes TextEncoder gives (any string, lone surrogates too)', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (key) => {
        const utf8 = encoder.encode(key);
        expect([...encodeKey(key)]).toEqual([0x20, ...varint(utf8.length), ...utf8]);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('decoding canonical keys', () => {
  /** What a key reads back as: −0 becomes 0 (the encoding does not keep the sign of zero). */
  const normalized = (key: unknown): unknown => {
    if (key === 0) return 0;
    if (Array.isArray(key)) return key.map(normalized);
    if (key !== null && typeof key === 'object') {
      const out: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(key)) {
        if (value === undefined) continue;
        Object.defineProperty(out, name, { value: normalized(value), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return key;
  };

  const wellFormedKey = fc.letrec<{ key: unknown }>((tie) => ({
    key: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalarKey,
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.array(tie('key'), { maxLength: 3 }),
      fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', '', '__proto__', 'constructor'), fc.string()), tie('key'), {
        maxKeys: 3,
      }),
    ),
  })).key;

  it('law: decode(encode(k)) deep-equals k, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(wellFormedKey, (key) => {
        const bytes = encodeKey(key);
        const decoded = decodeKey(bytes);
        expect(decoded).toEqual(normalized(key));
        expect(hex(encodeKey(decoded))).toBe(hex(bytes));
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads each kind, including the edges of numbers and bigints', () => {
    for (const key of [null, true, false, 0, -1, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 1.5, -Infinity, 0n, -(2n ** 80n), 'é😀', [], {}]) {
      expect(decodeKey(encodeKey(key))).toEqual(key);
    }
    expect(Number.isNaN(decodeKey(encodeKey(Number.NaN)))).toBe(true);
    expect(Object.is(decodeKey(encodeKey(-0)), 0)).toBe(true);
    const proto = decodeKey(encodeKey(JSON.parse('{"__proto__": 1}'))) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  it('reads consecutive keys with one reader', () => {
    const bytes = Buffer.concat([encodeKey('a'), encodeKey([1, { x: 2n }]), encodeKey(null)]);
    const reader = new KeyReader(bytes);
    expect([readKey(reader), readKey(reader), readKey(reader)]).toEqual(['a', [1, { x: 2n }], null]);
    expect(reader.offset).toBe(bytes.length);
  });

  it('rejects truncated, trailing and unknown bytes', () => {
    const bytes = encodeKey(['abc', 1]);
    expect(() => decodeKey(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    expect(() => decodeKey(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => decodeKey(Buffer.from([0x99]))).toThrow(EddyError);
  });
});
