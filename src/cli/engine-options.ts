import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { ConfigurationError } from '../core/errors.ts';
import { DEFAULT_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM } from '../core/key-group.ts';
import type { CheckpointingMode } from '../checkpoint/checkpoint-config.ts';
import { DEFAULT_RESTART_STRATEGY, parseRestartStrategy, type RestartStrategySpec } from '../checkpoint/restart-strategy.ts';
import { parseByteSize } from '../core/byte-size.ts';
import { STATE_BACKEND_KINDS, type StateBackendConfig, type StateBackendOverrides } from '../state/state-backend-config.ts';

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
  { name: 'checkpoint-dir', description: 'folder for checkpoints (one chk-<id> folder each; the newest 3 are kept)', defaultText: 'none' },
  { name: 'checkpoint-interval', description: 'time between the starts of two checkpoints', defaultText: '10s' },
  {
    name: 'checkpointing',
    description: 'exactly-once (align barriers) | at-least-once (no alignment) | off',
    defaultText: 'exactly-once with --checkpoint-dir, else off',
  },
  {
    name: 'restart-strategy',
    description:
      'after a failure: none | fixed-delay[:attempts=3,delay=1s] | exponential-delay[:initial=1s,max=1m] | failure-rate[:max=3,interval=1m,delay=1s]',
    defaultText: 'exponential-delay with checkpointing, else none',
  },
  { name: 'from-checkpoint', description: 'resume from a chk-<id> folder, or the latest completed checkpoint of a checkpoint dir', defaultText: 'none' },
  { name: 'state-backend', description: 'where keyed state lives: memory (the heap) | rocksdb (on disk, larger than memory)', defaultText: "the job's choice, else memory" },
  { name: 'state-dir', description: 'an existing folder for the rocksdb backend\'s databases (a folder per run inside it)', defaultText: 'the system temp folder' },
  { name: 'state-memory', description: 'budget of the rocksdb backend\'s state caches for the whole run, e.g. 256mb', defaultText: 'a quarter of the heap limit' },
  { name: 'quiet', description: 'print neither progress nor the end-of-run summary', defaultText: 'false' },
];

/** Engine option names taken by later capabilities; using one now is an error, never a job argument. */
export const RESERVED_ENGINE_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['from-savepoint', 'savepoints'],
  ['allow-non-restored-state', 'savepoints'],
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
  /** Set when the job checkpoints (a `--checkpoint-dir` and checkpointing not `off`). */
  readonly checkpoint?: CheckpointOptions;
  /** `--from-checkpoint`: a `chk-<id>` folder or a checkpoint dir. */
  readonly fromCheckpoint?: string;
  /** `--state-backend`, `--state-dir`, `--state-memory` as given; absent: the job's choice (else memory). */
  readonly stateBackend?: StateBackendOverrides;
}

/** The checkpoint engine options of a run that checkpoints. */
export interface CheckpointOptions {
  readonly mode: Exclude<CheckpointingMode, 'off'>;
  readonly dir: string;
  readonly intervalMs: number;
  readonly restartStrategy: RestartStrategySpec;
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
  const checkpointDir = stringOf('checkpoint-dir', take('checkpoint-dir'));
  const modeText = stringOf('checkpointing', take('checkpointing'));
  if (modeText !== undefined && modeText !== 'exactly-once' && modeText !== 'at-least-once' && modeText !== 'off') {
    throw new ConfigurationError(`--checkpointing must be exactly-once, at-least-once or off, got '${modeText}'`);
  }
  const checkpointing: CheckpointingMode = modeText ?? (checkpointDir === undefined ? 'off' : 'exactly-once');
  if (checkpointing !== 'off' && (checkpointDir === undefined || checkpointDir.trim() === '')) {
    throw new ConfigurationError(`--checkpointing ${checkpointing} needs a directory: add --checkpoint-dir <folder>`);
  }
  const intervalText = stringOf('checkpoint-interval', take('checkpoint-interval'));
  const checkpointIntervalMs = parse(duration('--checkpoint-interval'), 'checkpoint-interval', intervalText, 10_000);
  if (checkpointIntervalMs < 1) throw new ConfigurationError(`--checkpoint-interval must be > 0, got '${intervalText}'`);
  const strategyText = stringOf('restart-strategy', take('restart-strategy'));
  const restartStrategy: RestartStrategySpec =
    strategyText === undefined ? (checkpointing === 'off' ? { kind: 'none' } : DEFAULT_RESTART_STRATEGY) : parseRestartStrategy(strategyText);
  if (checkpointing === 'off' && restartStrategy.kind !== 'none') {
    throw new ConfigurationError(
      `--restart-strategy ${strategyText} restarts from checkpoints: add --checkpoint-dir <folder> (or drop --checkpointing off)`,
    );
  }
  const fromCheckpoint = stringOf('from-checkpoint', take('from-checkpoint'));
  const stateBackend = parseStateBackend(
    stringOf('state-backend', take('state-backend')),
    stringOf('state-dir', take('state-dir')),
    stringOf('state-memory', take('state-memory')),
  );
  const checkpoint: CheckpointOptions | undefined =
    checkpointing === 'off' || checkpointDir === undefined
      ? undefined
      : { mode: checkpointing, dir: checkpointDir, intervalMs: checkpointIntervalMs, restartStrategy };
  return {
    engine: {
      parallelism,
      maxParallelism,
      workers,
      onBadRecord,
      progressIntervalMs,
      bufferTimeoutMs,
      isQuiet,
      ...(checkpoint === undefined ? {} : { checkpoint }),
      ...(fromCheckpoint === undefined ? {} : { fromCheckpoint }),
      ...(stateBackend === undefined ? {} : { stateBackend }),
    },
    jobOptions,
  };
}

/**
 * `--state-backend`, `--state-dir`, `--state-memory` as given; merged with the job's own choice by
 * `resolveStateBackend` once the graph is built. The folder's existence is checked when the job starts
 * (by the executor), so API users get the same errors.
 */
function parseStateBackend(
  kind: string | undefined,
  dir: string | undefined,
  memory: string | undefined,
): StateBackendOverrides | undefined {
  if (kind !== undefined && !(STATE_BACKEND_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigurationError(`--state-backend must be ${STATE_BACKEND_KINDS.join(' or ')}, got '${kind}'`);
  }
  if (kind === 'memory' && (dir !== undefined || memory !== undefined)) {
    throw new ConfigurationError(`${dir !== undefined ? '--state-dir' : '--state-memory'} configures the rocksdb state backend, not memory`);
  }
  if (dir !== undefined && dir.trim() === '') throw new ConfigurationError('--state-dir needs a folder');
  if (kind === undefined && dir === undefined && memory === undefined) return undefined;
  return {
    ...(kind === undefined ? {} : { kind: kind as StateBackendConfig['kind'] }),
    ...(dir === undefined ? {} : { dir: path.resolve(dir) }),
    ...(memory === undefined ? {} : { memoryBytes: parseByteSize(memory, '--state-memory') }),
  };
}
