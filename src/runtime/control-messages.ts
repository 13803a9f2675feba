import type { MessagePort } from 'node:worker_threads';
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
}

/** Messages from the job manager to a worker. */
export type ToWorker =
  | WorkerInit
  | { readonly kind: 'start' }
  | { readonly kind: 'split-mail'; readonly vertexId: number; readonly subtask: number; readonly mail: SplitMail }
  | { readonly kind: 'cancel' };

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
  | { readonly kind: 'cancelled' };
