import type { MessagePort } from 'node:worker_threads';
import type { AcknowledgedState } from '../checkpoint/checkpoint-coordinator.ts';
import type { StateHandle } from '../checkpoint/checkpoint-metadata.ts';
import type { ResolvedStateBackend } from './state-backend-factory.ts';
import type { OperatorSnapshot } from '../operators/operator.ts';
import type { JobModuleRef } from '../api/job.ts';
import type { BadRecordPolicy } from './bad-record-handler.ts';
import type { SerializedError } from './error-codec.ts';
import type { SubtaskMetrics } from './task-manager.ts';
import type { SplitMail } from './task.ts';

/**
 * The control path between the job manager (main thread) and its workers: small structured-clone
 * messages, separate from the data path (which runs worker to worker over {@link PeerLink}s).
 */

/** What a worker needs to build the same graph and run its share of the subtasks. */
export interface WorkerInit {
  readonly kind: 'init';
  readonly workerIndex: number;
  readonly numWorkers: number;
  readonly job: JobModuleRef;
  readonly environment: { readonly jobName: string; readonly parallelism: number; readonly maxParallelism: number };
  /** The job manager's graph fingerprint; the worker fails if its own differs. */
  readonly fingerprint: string;
  readonly settings: WorkerSettings;
  /** One port per other worker. */
  readonly peers: ReadonlyArray<{ readonly workerIndex: number; readonly port: MessagePort }>;
}

/** Runtime settings every worker applies to its tasks; sizes in records and bytes, times in ms. */
export interface WorkerSettings {
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly bufferTimeoutMs: number;
  readonly channelCredits: number;
  readonly onBadRecord: BadRecordPolicy;
  readonly metricsIntervalMs: number;
  /** Checkpointing of this run (undefined: off); state files are written by the job manager. */
  readonly checkpointingMode: 'exactly-once' | 'at-least-once' | undefined;
  /** This run attempt's number (1 for the first). */
  readonly attempt: number;
  /** True when restoring: operators ask the job manager for their state before opening. */
  readonly isRestoring: boolean;
  /** The keyed state backend of this run (folders already created by the job manager). */
  readonly stateBackend: ResolvedStateBackend;
}

/** Messages from the job manager to a worker. */
export type ToWorker =
  | WorkerInit
  | { readonly kind: 'start' }
  | { readonly kind: 'split-mail'; readonly vertexId: number; readonly subtask: number; readonly mail: SplitMail }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'trigger-checkpoint'; readonly vertexId: number; readonly subtask: number; readonly checkpointId: number }
  | { readonly kind: 'checkpoint-complete'; readonly checkpointId: number; readonly isFinal: boolean }
  | { readonly kind: 'checkpoint-aborted'; readonly checkpointId: number }
  /** Answer to `write-state`: the handle, or the error that declines the checkpoint. */
  | { readonly kind: 'state-written'; readonly requestId: number; readonly handle?: StateHandle; readonly error?: SerializedError }
  /** Answer to `read-state`. */
  | { readonly kind: 'restored-state'; readonly requestId: number; readonly snapshot?: OperatorSnapshot; readonly error?: SerializedError };

/** Messages from a worker to the job manager. */
export type FromWorker =
  | { readonly kind: 'ready' }
  | { readonly kind: 'register-reader'; readonly vertexId: number; readonly subtask: number }
  | { readonly kind: 'split-request'; readonly vertexId: number; readonly subtask: number }
  | {
      readonly kind: 'task-finished';
      readonly vertexId: number;
      readonly subtask: number;
      readonly metrics: readonly SubtaskMetrics[];
    }
  | { readonly kind: 'metrics'; readonly metrics: readonly SubtaskMetrics[] }
  | { readonly kind: 'failed'; readonly error: SerializedError }
  | { readonly kind: 'cancelled' }
  | {
      readonly kind: 'checkpoint-ack';
      readonly vertexId: number;
      readonly subtask: number;
      readonly checkpointId: number;
      readonly states: readonly AcknowledgedState[];
      readonly isFinished: boolean;
    }
  | { readonly kind: 'checkpoint-decline'; readonly vertexId: number; readonly subtask: number; readonly checkpointId: number; readonly reason: string }
  | { readonly kind: 'task-ended'; readonly vertexId: number; readonly subtask: number }
  /** A task's snapshot, for the job manager to write (one writer of the checkpoint folder). */
  | {
      readonly kind: 'write-state';
      readonly requestId: number;
      readonly checkpointId: number;
      readonly uid: string;
      readonly subtask: number;
      readonly keyGroupRange: readonly [number, number];
      readonly isFinished: boolean;
      readonly snapshot: OperatorSnapshot;
    }
  | { readonly kind: 'read-state'; readonly requestId: number; readonly uid: string; readonly subtask: number };
