import { ConfigurationError } from '../../src/core/errors.ts';

/** How a file sink writes records: JSON lines, CSV, or a custom one-line encoding. */
export type FileSinkFormat<T> = 'json-lines' | 'csv' | { readonly encode: (value: T) => string };

/**
 * Turns records into text lines, each ending in `\n`. Stateful per output file: a CSV encoder writes its
 * header before the first row.
 */
export interface LineEncoder<T> {
  /** Text to write when the file is opened (a CSV header with known columns), or ''. */
  start(): string;
  /** The record's line(s), each with its `\n`. */
  encode(value: T): string;
}

class JsonLinesEncoder<T> implements LineEncoder<T> {
  start(): string {
    return '';
  }

  encode(value: T): string {
    const json = JSON.stringify(value);
    // JSON.stringify(undefined) (and of a function) is undefined: write `null` so every record is a line.
    return json === undefined ? 'null\n' : `${json}\n`;
  }
}

class CustomLineEncoder<T> implements LineEncoder<T> {
  private readonly encodeValue: (value: T) => string;

  constructor(encodeValue: (value: T) => string) {
    this.encodeValue = encodeValue;
  }

  start(): string {
    return '';
  }

  encode(value: T): string {
    const line = this.encodeValue(value);
    return line.endsWith('\n') ? line : `${line}\n`;
  }
}

const CSV_NEEDS_QUOTES = /[",\r\n]/;

/** One CSV field: RFC 4180 quoting when it holds a comma, quote or line break. */
export function encodeCsvField(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) text = '';
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (value instanceof Date) text = value.toISOString();
  else text = JSON.stringify(value) ?? '';
  return CSV_NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV rows. Objects are written by column: the columns are `csvColumns`, or else the keys of the first
 * object written (in insertion order); a header line names them. Arrays are written positionally and
 * other values as a single field; neither gets a header unless `csvColumns` is given.
 */
class CsvLineEncoder<T> implements LineEncoder<T> {
  private columns: readonly string[] | undefined;
  private isHeaderWritten = false;

  constructor(columns: readonly string[] | undefined) {
    this.columns = columns;
  }

  start(): string {
    if (this.columns === undefined) return '';
    this.isHeaderWritten = true;
    return this.headerLine(this.columns);
  }

  encode(value: T): string {
    let prefix = '';
    if (!this.isHeaderWritten) {
      this.isHeaderWritten = true;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        this.columns = Object.keys(value);
        prefix = this.headerLine(this.columns);
      }
    }
    return prefix + this.row(value);
  }

  private headerLine(columns: readonly string[]): string {
    let line = '';
    for (let i = 0; i < columns.length; i++) line += (i === 0 ? '' : ',') + encodeCsvField(columns[i]);
    return `${line}\n`;
  }

  private row(value: T): string {
    let line = '';
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) line += (i === 0 ? '' : ',') + encodeCsvField(value[i]);
    } else if (typeof value === 'object' && value !== null && this.columns !== undefined) {
      const record = value as Record<string, unknown>;
      const columns = this.columns;
      for (let i = 0; i < columns.length; i++) line += (i === 0 ? '' : ',') + encodeCsvField(record[columns[i]!]);
    } else {
      line = encodeCsvField(value);
    }
    return `${line}\n`;
  }
}

/**
 * The encoder for a file sink format (`csvColumns` applies to CSV only). Throws ConfigurationError for a
 * format that is neither `'json-lines'`, `'csv'` nor an object with `encode`.
 */
export function createLineEncoder<T>(format: FileSinkFormat<T>, csvColumns: readonly string[] | undefined): LineEncoder<T> {
  if (format === 'json-lines') return new JsonLinesEncoder<T>();
  if (format === 'csv') return new CsvLineEncoder<T>(csvColumns);
  if (typeof format === 'object' && format !== null && typeof format.encode === 'function') {
    return new CustomLineEncoder<T>(format.encode);
  }
  throw new ConfigurationError(
    `file sink format must be 'json-lines', 'csv' or { encode(value) }, got ${JSON.stringify(format)}`,
  );
}
