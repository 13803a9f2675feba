import { ConfigurationError } from './errors.ts';

/** Durations in Eddy are integer milliseconds. Users write them as `500ms`, `10s`, `5m`, `1h`, `2d` or plain ms. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION_PATTERN = /^(-?\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?$/;

/**
 * Parses a duration such as `500ms`, `10s`, `5m`, `1h`, `2d`, or a plain number of milliseconds.
 * Several parts may be combined: `1h30m`. The result must be a whole number of milliseconds.
 */
export function parseDuration(input: string | number, what = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || !Number.isInteger(input)) {
      throw new ConfigurationError(`${what} must be a whole number of milliseconds, got ${input}`);
    }
    return input;
  }
  const text = input.trim();
  const single = DURATION_PATTERN.exec(text);
  if (single !== null) return toMs(Number(single[1]), single[2] ?? 'ms', input, what);
  const parts = /(\d+(?:\.\d+)?)(ms|s|min|m|h|d)/g;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(parts)) {
    if (match.index !== consumed) break;
    total += toMs(Number(match[1]), match[2] ?? 'ms', input, what);
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new ConfigurationError(
      `${what} '${input}' is not a duration: write it as e.g. 500ms, 10s, 5m, 1h, 2d, 1h30m or plain milliseconds`,
    );
  }
  return total;
}

function toMs(amount: number, unit: string, input: string, what: string): number {
  const ms = amount * (UNIT_MS[unit] ?? 1);
  if (!Number.isInteger(ms)) {
    throw new ConfigurationError(`${what} '${input}' is not a whole number of milliseconds`);
  }
  return ms;
}

/** Formats milliseconds compactly for messages: 3600000 ▶ `1h`, 90000 ▶ `1m30s`, 1500 ▶ `1500ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return '0ms';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest % 1000 !== 0) return `${sign}${rest}ms`;
  const out: string[] = [];
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (rest >= size) {
      out.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return sign + out.join('');
}
