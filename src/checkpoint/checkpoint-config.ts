import { ConfigurationError } from '../core/errors.ts';

/**
 * How a job checkpoints. `exactly-once` aligns barriers (a task with several inputs stops reading an
 * input once barrier n arrived on it until every input delivered barrier n), so every snapshot is a
 * consistent cut; `at-least-once` does not block, so records after a barrier may be in a snapshot
 * and be replayed after a restore (no loss, possible duplicates); `off` takes no checkpoints.
 */
export type CheckpointingMode = 'exactly-once' | 'at-least-once' | 'off';

export interface CheckpointConfig {
  readonly mode: CheckpointingMode;
  /** Root folder; each checkpoint is a sub-folder `chk-<id>`. */
  readonly dir: string;
  /** Time between the start of two periodic checkpoints. */
  readonly intervalMs: number;
  /** Least time between the end of one checkpoint and the start of the next. */
  readonly minPauseMs: number;
  /** A checkpoint not complete after this long is aborted. */
  readonly timeoutMs: number;
  /** Checkpoints in flight at once. */
  readonly maxConcurrent: number;
  /** Consecutive failed (declined, timed-out) checkpoints tolerated before the job fails. */
  readonly tolerableFailures: number;
  /** Completed checkpoints kept on disk (the newest K). */
  readonly retained: number;
}

export const DEFAULT_CHECKPOINT_CONFIG: Omit<CheckpointConfig, 'dir' | 'mode'> = {
  intervalMs: 10_000,
  minPauseMs: 0,
  timeoutMs: 10 * 60_000,
  maxConcurrent: 1,
  tolerableFailures: 0,
  retained: 3,
};

export function checkCheckpointConfig(config: CheckpointConfig): CheckpointConfig {
  const positive = (name: string, value: number, min: number): void => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new ConfigurationError(`checkpoint ${name} must be a whole number ≥ ${min}, got ${value}`);
    }
  };
  positive('interval', config.intervalMs, 1);
  positive('min pause', config.minPauseMs, 0);
  positive('timeout', config.timeoutMs, 1);
  positive('max concurrent', config.maxConcurrent, 1);
  positive('tolerable failures', config.tolerableFailures, 0);
  positive('retained count', config.retained, 1);
  if (config.mode !== 'off' && config.dir.trim() === '') {
    throw new ConfigurationError('checkpointing needs a directory: --checkpoint-dir <folder>');
  }
  return config;
}
