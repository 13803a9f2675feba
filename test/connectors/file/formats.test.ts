import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError } from '../../../src/core/errors.ts';
import { INVALID_RECORD, csv, encodeCsvField, jsonLines, splitCsvLine, textLines } from '../../../connectors/file/index.ts';

function split(line: string, delimiter = ','): string[] | string {
  const fields: string[] = [];
  const error = splitCsvLine(line, delimiter, fields);
  return error ?? fields;
}

describe('splitCsvLine', () => {
  it('splits on the delimiter and unquotes RFC 4180 fields', () => {
    expect(split('a,b,c')).toEqual(['a', 'b', 'c']);
    expect(split('')).toEqual(['']);
    expect(split(',')).toEqual(['', '']);
    expect(split('"a,b",c')).toEqual(['a,b', 'c']);
    expect(split('"say ""hi""",""')).toEqual(['say "hi"', '']);
    expect(split('"x",')).toEqual(['x', '']);
    expect(split('a||b', '||')).toEqual(['a', 'b']);
  });

  it('reports malformed quoting instead of guessing', () => {
    expect(split('"open,b')).toBe('field 1 has an unterminated quote (quoted fields spanning lines are not supported)');
    expect(split('"a"b,c')).toBe('field 1 has characters after its closing quote');
    expect(split('a,b"c')).toBe('field 2 has a quote inside an unquoted field (quote the whole field and double its quotes)');
  });

  it('parses back what encodeCsvField wrote (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }).filter((s) => !/[\r\n]/.test(s)), { minLength: 1, maxLength: 8 }), (fields) => {
        expect(split(fields.map(encodeCsvField).join(','))).toEqual(fields);
      }),
    );
  });
});

describe('formats', () => {
  it('jsonLines decodes JSON and reports parse and schema failures', () => {
    const decoder = jsonLines({ schema: z.object({ user: z.object({ id: z.number() }) }) }).createDecoder();
    expect(decoder.decode('{"user":{"id":1}}')).toEqual({ user: { id: 1 } });
    expect(decoder.decode('{"user":')).toBe(INVALID_RECORD);
    expect(decoder.error).toMatch(/^invalid JSON/);
    expect(decoder.decode('{"user":{"id":"x"}}')).toBe(INVALID_RECORD);
    expect(decoder.error).toContain("field 'user.id'");
  });

  it('csv requires columns without a header and rejects bad delimiters', () => {
    expect(() => csv({ header: false })).toThrow(ConfigurationError);
    expect(() => csv({ delimiter: '' })).toThrow('csv delimiter must be a non-empty string');
    expect(() => csv({ columns: ['a', 'a'] })).toThrow('csv columns must be distinct');
  });

  it('csv with header and columns skips the header and uses the given names', () => {
    const decoder = csv({ columns: ['x', 'y'] }).createDecoder();
    expect(decoder.readHeader('a,b')).toBeUndefined();
    expect(decoder.decode('1,2')).toEqual({ x: '1', y: '2' });
  });

  it('text keeps lines as they are', () => {
    const format = textLines();
    expect(format.skipsBlankLines).toBe(false);
    expect(format.createDecoder().decode('  ')).toBe('  ');
  });
});
