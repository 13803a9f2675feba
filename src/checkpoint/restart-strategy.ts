import { ConfigurationError } from '../core/errors.ts';
import { parseDuration } from '../core/duration.ts';

/**
 * Restart strategies (Flink's): after a job failure, how long to wait before restarting from the
 * latest completed checkpoint — or `'fail'` to give up. Pure and deterministic given the clock and
 * the random source, so they are tested without waiting.
 */
export interface RestartStrategy {
  /** Called once per failure, at `nowMs`: the delay before the restart, or `'fail'`. */
  nextDelay(nowMs: number): number | 'fail';
  describe(): string;
}

/** Never restarts. */
export class NoRestartStrategy implements RestartStrategy {
  nextDelay(): 'fail' {
    return 'fail';
  }
  describe(): string {
    return 'none';
  }
}

/** At most `attempts` restarts over the job's life, each after `delayMs`. */
export class FixedDelayRestartStrategy implements RestartStrategy {
  private restarts = 0;

  constructor(
    readonly attempts: number,
    readonly delayMs: number,
  ) {}

  nextDelay(): number | 'fail' {
    if (this.restarts >= this.attempts) return 'fail';
    this.restarts++;
    return this.delayMs;
  }

  describe(): string {
    return `fixed-delay (${this.attempts} attempts, ${this.delayMs} ms apart)`;
  }
}

/**
 * Restarts without limit; the delay starts at `initialMs` and is multiplied by `multiplier` after each
 * failure up to `maxMs`. `jitter` (0..1) spreads each delay uniformly over ±jitter·delay. After
 * `resetAfterMs` without a failure the delay starts over at `initialMs`.
 */
export class ExponentialDelayRestartStrategy implements RestartStrategy {
  private currentMs: number;
  private lastFailureAtMs: number | undefined = undefined;

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    readonly multiplier: number = 2,
    readonly jitter: number = 0.1,
    readonly resetAfterMs: number = 2 * maxMs,
    private readonly random: () => number = Math.random,
  ) {
    if (!(initialMs >= 0 && maxMs >= initialMs && multiplier >= 1 && jitter >= 0 && jitter <= 1)) {
      throw new ConfigurationError(
        `exponential-delay needs 0 ≤ initial ≤ max, multiplier ≥ 1 and jitter in 0..1, got initial=${initialMs}ms max=${maxMs}ms ` +
          `multiplier=${multiplier} jitter=${jitter}`,
      );
    }
    this.currentMs = initialMs;
  }

  nextDelay(nowMs: number): number {
    if (this.lastFailureAtMs !== undefined) {
      const isQuiet = nowMs - this.lastFailureAtMs >= this.resetAfterMs;
      this.currentMs = isQuiet ? this.initialMs : Math.min(this.maxMs, this.currentMs * this.multiplier);
    }
    this.lastFailureAtMs = nowMs;
    const spread = this.currentMs * this.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.round(this.currentMs + spread));
  }

  describe(): string {
    return `exponential-delay (${this.initialMs} ms to ${this.maxMs} ms, ×${this.multiplier})`;
  }
}

/** Restarts after `delayMs` unless more than `maxFailures` failures fall within `intervalMs`. */
export class FailureRateRestartStrategy implements RestartStrategy {
  private readonly failuresAtMs: number[] = [];

  constructor(
    readonly maxFailures: number,
    readonly intervalMs: number,
    readonly delayMs: number,
  ) {}

  nextDelay(nowMs: number): number | 'fail' {
    this.failuresAtMs.push(nowMs);
    while (this.failuresAtMs.length > 0 && this.failuresAtMs[0]! <= nowMs - this.intervalMs) this.failuresAtMs.shift();
    return this.failuresAtMs.length > this.maxFailures ? 'fail' : this.delayMs;
  }

  describe(): string {
    return `failure-rate (at most ${this.maxFailures} per ${this.intervalMs} ms, ${this.delayMs} ms apart)`;
  }
}

/** A restart strategy as plain data (crosses the CLI and the executor options). */
export type RestartStrategySpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'fixed-delay'; readonly attempts: number; readonly delayMs: number }
  | {
      readonly kind: 'exponential-delay';
      readonly initialMs: number;
      readonly maxMs: number;
      readonly multiplier?: number;
      readonly jitter?: number;
    }
  | { readonly kind: 'failure-rate'; readonly maxFailures: number; readonly intervalMs: number; readonly delayMs: number };

export const DEFAULT_RESTART_STRATEGY: RestartStrategySpec = { kind: 'exponential-delay', initialMs: 1_000, maxMs: 60_000 };

export function createRestartStrategy(spec: RestartStrategySpec, random: () => number = Math.random): RestartStrategy {
  switch (spec.kind) {
    case 'none':
      return new NoRestartStrategy();
    case 'fixed-delay':
      return new FixedDelayRestartStrategy(spec.attempts, spec.delayMs);
    case 'exponential-delay':
      return new ExponentialDelayRestartStrategy(spec.initialMs, spec.maxMs, spec.multiplier ?? 2, spec.jitter ?? 0.1, 2 * spec.maxMs, random);
    case 'failure-rate':
      return new FailureRateRestartStrategy(spec.maxFailures, spec.intervalMs, spec.delayMs);
  }
}

/**
 * Parses `none | fixed-delay[:attempts=3,delay=1s] | exponential-delay[:initial=1s,max=1m,multiplier=2,jitter=0.1]
 * | failure-rate[:max=3,interval=1m,delay=1s]` (the `--restart-strategy` option).
 */
export function parseRestartStrategy(text: string): RestartStrategySpec {
  const [kind, rest] = splitOnce(text.trim(), ':');
  const params = new Map<string, string>();
  if (rest !== undefined && rest !== '') {
    for (const part of rest.split(',')) {
      const [key, value] = splitOnce(part.trim(), '=');
      if (value === undefined || key === '') throw badStrategy(text, `'${part}' is not key=value`);
      params.set(key, value);
    }
  }
  const take = (name: string, fallback: number, parse: (value: string) => number): number => {
    const raw = params.get(name);
    params.delete(name);
    if (raw === undefined) return fallback;
    const value = parse(raw);
    if (!Number.isFinite(value) || value < 0) throw badStrategy(text, `${name} must be ≥ 0, got '${raw}'`);
    return value;
  };
  const duration = (raw: string): number => parseDuration(raw);
  const count = (raw: string): number => (/^\d+$/.test(raw) ? Number(raw) : Number.NaN);
  let spec: RestartStrategySpec;
  switch (kind) {
    case 'none':
      spec = { kind: 'none' };
      break;
    case 'fixed-delay':
      spec = { kind: 'fixed-delay', attempts: take('attempts', 3, count), delayMs: take('delay', 1_000, duration) };
      break;
    case 'exponential-delay':
      spec = {
        kind: 'exponential-delay',
        initialMs: take('initial', 1_000, duration),
        maxMs: take('max', 60_000, duration),
        multiplier: take('multiplier', 2, Number),
        jitter: take('jitter', 0.1, Number),
      };
      if (spec.maxMs < spec.initialMs) throw badStrategy(text, 'max must be ≥ initial');
      if ((spec.multiplier ?? 2) < 1) throw badStrategy(text, 'multiplier must be ≥ 1');
      if ((spec.jitter ?? 0) > 1) throw badStrategy(text, 'jitter must be in 0..1');
      break;
    case 'failure-rate':
      spec = {
        kind: 'failure-rate',
        maxFailures: take('max', 3, count),
        intervalMs: take('interval', 60_000, duration),
        delayMs: take('delay', 1_000, duration),
      };
      break;
    default:
      throw badStrategy(text, `unknown strategy '${kind}'`);
  }
  if (params.size > 0) throw badStrategy(text, `unknown parameter(s) ${[...params.keys()].join(', ')} for ${kind}`);
  return spec;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function badStrategy(text: string, problem: string): ConfigurationError {
  return new ConfigurationError(
    `--restart-strategy '${text}': ${problem}; expected none | fixed-delay[:attempts=3,delay=1s] | ` +
      'exponential-delay[:initial=1s,max=1m] | failure-rate[:max=3,interval=1m,delay=1s]',
  );
}
