import type { ZodType } from 'zod';
import { ConfigurationError } from '../../src/core/errors.ts';

/** Returned by {@link LineDecoder.decode} for a line that is not a valid record; see `error`. */
export const INVALID_RECORD: unique symbol = Symbol('invalid record');
/** The type of {@link INVALID_RECORD}. */
export type InvalidRecord = typeof INVALID_RECORD;

/**
 * Decodes the lines of one file into records. One decoder per file (split): a CSV decoder keeps that
 * file's column names. Synchronous and allocation-light: `decode` returns the record, or
 * {@link INVALID_RECORD} and leaves a message naming the problem (and the field) in `error`.
 */
export interface LineDecoder<T> {
  /** Why the last `decode` returned INVALID_RECORD. */
  readonly error: string;
  /**
   * Line 1 of the file, for formats with `readsHeader`. Returns an error message when the header is
   * unusable (the reader then fails: no line of that file could be decoded).
   */
  readHeader(line: string): string | undefined;
  /** The record of one line (without its newline), or INVALID_RECORD with the reason in `error`. */
  decode(line: string): T | InvalidRecord;
}

/** How a file source turns lines into records. Build one with {@link jsonLines}, {@link csv} or {@link textLines}. */
export interface FileFormat<T> {
  /** `json-lines`, `csv` or `text`: for descriptions and errors. */
  readonly name: string;
  /** Whether lines of only whitespace are skipped (JSON lines, CSV) or emitted (text). */
  readonly skipsBlankLines: boolean;
  /** Whether line 1 of every file is a header rather than a record. */
  readonly readsHeader: boolean;
  /** A fresh decoder for one file. */
  createDecoder(): LineDecoder<T>;
}

/**
 * Formats a schema failure as one sentence naming the field(s): `field 'amount': Invalid input: expected
 * number, received string`. At most three issues are listed.
 */
function describeSchemaIssues(issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[]): string {
  const parts: string[] = [];
  const shown = Math.min(issues.length, 3);
  for (let i = 0; i < shown; i++) {
    const issue = issues[i]!;
    const where = issue.path.length === 0 ? 'record' : `field '${issue.path.map(String).join('.')}'`;
    parts.push(`${where}: ${issue.message}`);
  }
  if (issues.length > shown) parts.push(`and ${issues.length - shown} more`);
  return `schema mismatch: ${parts.join('; ')}`;
}

class JsonLinesDecoder<T> implements LineDecoder<T> {
  error = '';
  private readonly schema: ZodType<T> | undefined;

  constructor(schema: ZodType<T> | undefined) {
    this.schema = schema;
  }

  readHeader(): string | undefined {
    return undefined;
  }

  decode(line: string): T | InvalidRecord {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      this.error = `invalid JSON: ${error instanceof Error ? error.message : String(error)}`;
      return INVALID_RECORD;
    }
    if (this.schema === undefined) return parsed as T;
    const result = this.schema.safeParse(parsed);
    if (result.success) return result.data;
    this.error = describeSchemaIssues(result.error.issues);
    return INVALID_RECORD;
  }
}

/** Options of {@link jsonLines}. */
export interface JsonLinesOptions<T> {
  /** Validates (and may transform) every parsed line; a failure is a bad record naming the field. */
  readonly schema?: ZodType<T>;
}

/**
 * One JSON value per line (JSON Lines / NDJSON). Blank lines are skipped. A line that is not valid JSON,
 * or that fails `schema`, is reported as a bad record at `file:line`.
 */
export function jsonLines<T = unknown>(options: JsonLinesOptions<T> = {}): FileFormat<T> {
  const schema = options.schema;
  return {
    name: 'json-lines',
    skipsBlankLines: true,
    readsHeader: false,
    createDecoder: () => new JsonLinesDecoder<T>(schema),
  };
}

/**
 * Splits one CSV line into `fields` (RFC 4180 quoting: a field in double quotes may contain the
 * delimiter and `""` for a quote). Returns an error message, or undefined on success. Quoted fields
 * spanning lines are not supported: an unterminated quote is an error, never a silent misparse.
 */
export function splitCsvLine(line: string, delimiter: string, fields: string[]): string | undefined {
  fields.length = 0;
  const length = line.length;
  let i = 0;
  /** Position of the first quote at or after `i` in an unquoted stretch (`length` when none); one scan per line. */
  let nextQuote = -1;
  for (;;) {
    if (i < length && line.charCodeAt(i) === 34 /* " */) {
      let value = '';
      let start = i + 1;
      let j = start;
      for (;;) {
        const close = line.indexOf('"', j);
        if (close < 0) {
          return `field ${fields.length + 1} has an unterminated quote (quoted fields spanning lines are not supported)`;
        }
        if (close + 1 < length && line.charCodeAt(close + 1) === 34) {
          value += line.slice(start, close + 1);
          start = close + 2;
          j = start;
          continue;
        }
        value += line.slice(start, close);
        i = close + 1;
        break;
      }
      fields.push(value);
      if (i === length) return undefined;
      if (!line.startsWith(delimiter, i)) {
        return `field ${fields.length} has characters after its closing quote`;
      }
      i += delimiter.length;
    } else {
      const next = line.indexOf(delimiter, i);
      const end = next < 0 ? length : next;
      if (nextQuote < i) {
        nextQuote = line.indexOf('"', i);
        if (nextQuote < 0) nextQuote = length;
      }
      // Strict, so that the tail of a quoted field spanning lines is reported rather than misparsed.
      if (nextQuote < end) {
        return `field ${fields.length + 1} has a quote inside an unquoted field (quote the whole field and double its quotes)`;
      }
      fields.push(line.slice(i, end));
      if (next < 0) return undefined;
      i = next + delimiter.length;
    }
  }
}

class CsvDecoder<T> implements LineDecoder<T> {
  error = '';
  private columns: readonly string[] | undefined;
  private readonly delimiter: string;
  private readonly schema: ZodType<T> | undefined;
  private readonly isHeaderColumnSource: boolean;
  private readonly fields: string[] = [];

  constructor(columns: readonly string[] | undefined, delimiter: string, schema: ZodType<T> | undefined) {
    this.columns = columns;
    this.isHeaderColumnSource = columns === undefined;
    this.delimiter = delimiter;
    this.schema = schema;
  }

  readHeader(line: string): string | undefined {
    const error = splitCsvLine(line, this.delimiter, this.fields);
    if (error !== undefined) return `csv header: ${error}`;
    if (!this.isHeaderColumnSource) return undefined;
    const names = this.fields.slice();
    const seen = new Set<string>();
    for (const name of names) {
      if (name.trim() === '') return `csv header has an empty column name: ${JSON.stringify(line)}`;
      if (seen.has(name)) return `csv header names column '${name}' twice`;
      seen.add(name);
    }
    this.columns = names;
    return undefined;
  }

  decode(line: string): T | InvalidRecord {
    const columns = this.columns;
    if (columns === undefined) {
      this.error = 'csv file has no header line';
      return INVALID_RECORD;
    }
    const fields = this.fields;
    const error = splitCsvLine(line, this.delimiter, fields);
    if (error !== undefined) {
      this.error = error;
      return INVALID_RECORD;
    }
    if (fields.length !== columns.length) {
      this.error = `expected ${columns.length} fields (${columns.join(', ')}), got ${fields.length}`;
      return INVALID_RECORD;
    }
    const row: Record<string, string> = {};
    for (let i = 0; i < columns.length; i++) row[columns[i]!] = fields[i]!;
    if (this.schema === undefined) return row as T;
    const result = this.schema.safeParse(row);
    if (result.success) return result.data;
    this.error = describeSchemaIssues(result.error.issues);
    return INVALID_RECORD;
  }
}

/** Options of {@link csv}. */
export interface CsvOptions<T> {
  /** Column names. Required when `header` is false; when `header` is true they replace the header's names. */
  readonly columns?: readonly string[];
  /** Whether line 1 of each file is a header (default true). Without `columns`, it gives the names. */
  readonly header?: boolean;
  /** Field separator, default `,`. */
  readonly delimiter?: string;
  /**
   * Validates every row. Rows are objects of *strings* keyed by column, so use `z.coerce.number()` (etc.)
   * for non-string columns: `z.object({ id: z.string(), amount: z.coerce.number() })`.
   */
  readonly schema?: ZodType<T>;
}

/**
 * Comma-separated values, one record per line: an object keyed by column name whose values are the
 * raw strings (convert with a schema using `z.coerce`). Quoting follows RFC 4180 within a line, strictly
 * (a quote inside an unquoted field is an error); quoted fields containing line breaks are **not
 * supported** — both lines of such a record are reported as bad, never misparsed. Blank lines are skipped; a row with the wrong number of fields is a bad record.
 */
export function csv<T = Record<string, string>>(options: CsvOptions<T> = {}): FileFormat<T> {
  const delimiter = options.delimiter ?? ',';
  const hasHeader = options.header ?? true;
  const columns = options.columns === undefined ? undefined : [...options.columns];
  if (delimiter.length === 0 || delimiter.includes('"') || delimiter.includes('\n') || delimiter.includes('\r')) {
    throw new ConfigurationError(
      `csv delimiter must be a non-empty string without quotes or line breaks, got ${JSON.stringify(delimiter)}`,
    );
  }
  if (!hasHeader && columns === undefined) {
    throw new ConfigurationError('csv with header: false needs the column names: pass columns: [...]');
  }
  if (columns !== undefined) {
    if (columns.length === 0) throw new ConfigurationError('csv columns must name at least one column, got []');
    if (new Set(columns).size !== columns.length) {
      throw new ConfigurationError(`csv columns must be distinct, got ${JSON.stringify(columns)}`);
    }
  }
  const schema = options.schema;
  return {
    name: 'csv',
    skipsBlankLines: true,
    readsHeader: hasHeader,
    createDecoder: () => new CsvDecoder<T>(columns, delimiter, schema),
  };
}

class TextLineDecoder implements LineDecoder<string> {
  readonly error = '';

  readHeader(): string | undefined {
    return undefined;
  }

  decode(line: string): string {
    return line;
  }
}

/**
 * Every line as a string, without its line break (`\n` or `\r\n`). Empty lines are emitted too; a file
 * ending in a line break has no extra empty last line.
 */
export function textLines(): FileFormat<string> {
  return { name: 'text', skipsBlankLines: false, readsHeader: false, createDecoder: () => new TextLineDecoder() };
}
