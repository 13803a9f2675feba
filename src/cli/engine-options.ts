import os from 'node:os';
import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { ConfigurationError } from '../core/errors.ts';
import { DEFAULT_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM } from '../core/key-group.ts';

/**
 * Engine options: reserved names that configure how a job runs, not what it computes. Every other
 * option of `eddy run` belongs to the job. Names reserved for capabilities that are not available
 * yet are rejected with a sentence saying so, rather than silently passed to the job.
 */
export interface EngineOptionSpec {
  readonly name: string;
  readonly description: string;
  readonly defaultText: string;
}

/** The engine options `eddy run` accepts, in the order help lists them. */
export const ENGINE_OPTIONS: readonly EngineOptionSpec[] = [
  { name: 'parallelism', description: 'default parallelism of every operator', defaultText: 'number of cores' },
  { name: 'max-parallelism', description: 'number of key groups: the upper bound for rescaling', defaultText: String(DEFAULT_MAX_PARALLELISM) },
  { name: 'workers', description: 'worker threads to run subtasks on (0: run everything in the main thread)', defaultText: 'number of cores' },
  { name: 'on-bad-record', description: "what to do with a malformed input record: fail | skip | dead-letter=<file>", defaultText: 'fail' },
  { name: 'progress-interval', description: 'how often to print the progress line (0 to never)', defaultText: '5s' },
  { name: 'buffer-timeout', description: 'longest time a partly filled buffer waits before it is sent', defaultText: '100ms' },
  { name: 'quiet', description: 'print neither progress nor the end-of-run summary', defaultText: 'false' },
];

/** Engine option names taken by later capabilities; using one now is an error, never a job argument. */
export const RESERVED_ENGINE_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['checkpoint-dir', 'checkpointing'],
  ['checkpoint-interval', 'checkpointing'],
  ['checkpointing', 'checkpointing'],
  ['restart-strategy', 'automatic recovery'],
  ['from-checkpoint', 'restoring from checkpoints'],
  ['from-savepoint', 'savepoints'],
  ['allow-non-restored-state', 'savepoints'],
  ['state-backend', 'the RocksDB state backend'],
  ['state-dir', 'the RocksDB state backend'],
  ['state-memory', 'the RocksDB state backend'],
]);

/**
 * What to do with a record a source cannot read: fail the job, skip it (counted), or append it to a
 * dead-letter file.
 */
export type BadRecordPolicy = 'fail' | 'skip' | { readonly deadLetterPath: string };

/**
 * Engine options parsed and validated, with defaults applied. Durations in ms; `workers: 0` runs everything
 * in the main thread.
 */
export interface EngineOptions {
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly workers: number;
  readonly onBadRecord: BadRecordPolicy;
  readonly progressIntervalMs: number;
  readonly bufferTimeoutMs: number;
  readonly isQuiet: boolean;
}

/**
 * A whole number in [min, max], from its command-line text; errors name the option and echo the value.
 * `maxText` names the upper bound when it comes from another option (`--max-parallelism (4)`).
 */
const wholeNumber = (what: string, min: number, max: number, maxText = String(max)) =>
  z.string().transform((text, context) => {
    const value = text.trim() === '' ? Number.NaN : Number(text);
    const rule = !Number.isInteger(value) ? 'a whole number' : value < min ? `≥ ${min}` : value > max ? `≤ ${maxText}` : undefined;
    if (rule === undefined) return value;
    context.addIssue({ code: 'custom', message: `${what} must be ${rule}, got ${Number.isNaN(value) ? `'${text}'` : text}` });
    return z.NEVER;
  });

const duration = (what: string) =>
  z.string().transform((value, context) => {
    try {
      return parseDuration(value, what);
    } catch (error) {
      context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

const badRecordPolicy = z.string().transform((value, context): BadRecordPolicy => {
  if (value === 'fail' || value === 'skip') return value;
  if (value.startsWith('dead-letter=') && value.length > 'dead-letter='.length) {
    return { deadLetterPath: value.slice('dead-letter='.length) };
  }
  context.addIssue({
    code: 'custom',
    message: `--on-bad-record must be fail, skip or dead-letter=<file>, got '${value}'`,
  });
  return z.NEVER;
});

/** Takes the engine options out of `options` (validated) and returns the rest for the job. */
export function extractEngineOptions(options: ReadonlyMap<string, string | true>): {
  engine: EngineOptions;
  jobOptions: Map<string, string | true>;
} {
  const cores = os.availableParallelism();
  const jobOptions = new Map(options);
  const take = (name: string): string | true | undefined => {
    const value = jobOptions.get(name);
    jobOptions.delete(name);
    return value;
  };
  for (const [name, capability] of RESERVED_ENGINE_OPTIONS) {
    if (jobOptions.has(name)) {
      throw new ConfigurationError(
        `--${name} is an engine option for ${capability}, which this version of Eddy does not provide yet`,
      );
    }
  }
  const stringOf = (name: string, value: string | true | undefined): string | undefined => {
    if (value === true) throw new ConfigurationError(`--${name} needs a value`);
    return value;
  };
  const parse = <T>(schema: z.ZodType<T>, name: string, value: string | undefined, fallback: T): T => {
    if (value === undefined) return fallback;
    const result = schema.safeParse(value);
    if (!result.success) {
      // Every message names its option (--name must be …, got …).
      throw new ConfigurationError(result.error.issues.map((issue) => issue.message).join('; '));
    }
    return result.data;
  };
  const maxParallelism = parse(
    wholeNumber('--max-parallelism', 1, UPPER_BOUND_MAX_PARALLELISM),
    'max-parallelism',
    stringOf('max-parallelism', take('max-parallelism')),
    DEFAULT_MAX_PARALLELISM,
  );
  const parallelism = parse(
    wholeNumber('--parallelism', 1, maxParallelism, `--max-parallelism (${maxParallelism})`),
    'parallelism',
    stringOf('parallelism', take('parallelism')),
    Math.min(cores, maxParallelism),
  );
  const workers = parse(wholeNumber('--workers', 0, 256), 'workers', stringOf('workers', take('workers')), cores);
  const onBadRecord = parse(badRecordPolicy, 'on-bad-record', stringOf('on-bad-record', take('on-bad-record')), 'fail');
  const progressIntervalMs = parse(
    duration('--progress-interval'),
    'progress-interval',
    stringOf('progress-interval', take('progress-interval')),
    5_000,
  );
  const bufferTimeoutMs = parse(
    duration('--buffer-timeout'),
    'buffer-timeout',
    stringOf('buffer-timeout', take('buffer-timeout')),
    100,
  );
  const quiet = take('quiet');
  const isQuiet = quiet === true || quiet === 'true';
  return {
    engine: { parallelism, maxParallelism, workers, onBadRecord, progressIntervalMs, bufferTimeoutMs, isQuiet },
    jobOptions,
  };
}
