import { ConfigurationError } from './errors.ts';

/**
 * Byte sizes as users write them: `512mb`, `1.5gb`, `64 MiB`, `1048576`. Units are binary (1 kb = 1024
 * bytes), as memory budgets are; `b`, `kb`/`kib`, `mb`/`mib`, `gb`/`gib`, case-insensitive; a bare number
 * is bytes. The result is a whole number of bytes.
 */
const UNITS: ReadonlyMap<string, number> = new Map([
  ['', 1],
  ['b', 1],
  ['k', 1024],
  ['kb', 1024],
  ['kib', 1024],
  ['m', 1024 ** 2],
  ['mb', 1024 ** 2],
  ['mib', 1024 ** 2],
  ['g', 1024 ** 3],
  ['gb', 1024 ** 3],
  ['gib', 1024 ** 3],
]);

const BYTE_SIZE = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i;

/** Parses a byte size; `what` names the setting in the error (e.g. `--state-memory`). */
export function parseByteSize(text: string, what: string): number {
  const match = BYTE_SIZE.exec(text);
  const unit = match === null ? undefined : UNITS.get(match[2]!.toLowerCase());
  if (match === null || unit === undefined) {
    throw new ConfigurationError(`${what} must be a size such as 256mb, 1gb or 65536 (bytes), got '${text}'`);
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new ConfigurationError(`${what} is too large: '${text}'`);
  return bytes;
}

/** `67108864` ▶ `64 MiB`; for messages and the CLI. */
export function formatByteSize(bytes: number): string {
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}
