import { describe, expect, it } from 'vitest';
import { formatByteSize, parseByteSize } from '../../src/core/byte-size.ts';
import { ConfigurationError } from '../../src/core/errors.ts';

describe('parseByteSize', () => {
  it.each([
    ['65536', 65_536],
    ['64kb', 65_536],
    ['64 KiB', 65_536],
    ['32mb', 32 * 1024 ** 2],
    ['32M', 32 * 1024 ** 2],
    ['1.5gb', 1.5 * 1024 ** 3],
    ['7b', 7],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseByteSize(text, '--state-memory')).toBe(bytes);
  });

  it.each(['', 'lots', '-1mb', '12 parsecs', '1e3'])('rejects %j, naming the setting and an example', (text) => {
    expect(() => parseByteSize(text, '--state-memory')).toThrow(ConfigurationError);
    expect(() => parseByteSize(text, '--state-memory')).toThrow(/--state-memory must be a size such as 256mb, 1gb or 65536 \(bytes\)/);
  });
});

describe('formatByteSize', () => {
  it('uses the largest binary unit', () => {
    expect(formatByteSize(64 * 1024 ** 2)).toBe('64 MiB');
    expect(formatByteSize(1536)).toBe('1.5 KiB');
    expect(formatByteSize(12)).toBe('12 B');
    expect(formatByteSize(3 * 1024 ** 3)).toBe('3 GiB');
  });
});
