import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { JobModuleRef } from '../api/job.ts';
import { ConfigurationError, EddyError, assertNever, describeError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/time.ts';
import { fingerprintGraph } from '../graph/fingerprint.ts';
import { planJob, type ExecutionPlan } from '../graph/plan.ts';
import type { StreamGraph } from '../graph/stream-graph.ts';
import { validateBadRecordPolicy, type BadRecordPolicy } from './bad-record-handler.ts';
import { buildChannelTopology, deploySubtasks } from './channel-topology.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './control-messages.ts';
import { Deferred } from './deferred.ts';
import { deserializeError } from './error-codec.ts';
import { JobMetrics, type JobProgress, type JobResult } from './job-metrics.ts';
import { DEFAULT_CHANNEL_CREDITS } from './output-channel.ts';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES } from './record-writer.ts';
import { SplitCoordinator } from './split-coordinator.ts';
import { loadKeyedStateBackendFactory } from './state-backend-factory.ts';
import { TaskManager } from './task-manager.ts';

/** How {@link executeJob} runs a job on this machine. */
export interface ExecutionOptions {
  /** Worker threads; default `os.availableParallelism()`. 0 runs every task in the calling thread. */
  readonly workers?: number;
  /** Where workers import the job from; required when workers > 0. */
  readonly job?: JobModuleRef;
  /** Processing-time clock; only with `workers: 0` (a clock object cannot cross threads). */
  readonly clock?: Clock;
  /** Most records per batch between tasks. Default 1,000. */
  readonly batchSize?: number;
  /** Target bytes per serialized batch. Default 64 KiB. */
  readonly maxBatchBytes?: number;
  /** A partly filled batch is sent at the latest this long after its task ran out of input. Default 100 ms. */
  readonly bufferTimeoutMs?: number;
  /** Batches in flight per channel. Default 4. */
  readonly channelCredits?: number;
  /** Bad input records: fail the job (default), skip (counted), or append to a dead-letter file. */
  readonly onBadRecord?: BadRecordPolicy;
  readonly onProgress?: (progress: JobProgress) => void;
  /** Default 1,000 ms. */
  readonly progressIntervalMs?: number;
  /** Aborting cancels the job (every task closed, workers terminated); `executeJob` then rejects. */
  readonly signal?: AbortSignal;
}

export type { JobProgress, JobResult, OperatorResult } from './job-metrics.ts';

interface Settings extends WorkerSettings {
  readonly workers: number;
  readonly clock: Clock;
  readonly progressIntervalMs: number;
}

/** How long cancelled workers get to close their operators before they are terminated. */
const CANCEL_GRACE_MS = 5_000;

/**
 * Runs a job to completion on this machine: plans the graph, starts the split enumerators here and the
 * tasks either in this thread (`workers: 0`, deterministic, for tests and small jobs) or spread over
 * worker threads that each build the graph from the job module. Resolves with every operator's
 * metrics; on the first failure cancels everything (tasks closed, workers terminated) and rejects
 * with that root cause, which names the operator uid and subtask.
 */
export async function executeJob(graph: StreamGraph, options: ExecutionOptions = {}): Promise<JobResult> {
  const settings = resolveSettings(options);
  const plan = planJob(graph);
  if (settings.workers === 0) {
    const job = await startInProcessJob(plan, settings, options.onProgress, options.signal);
    return job.result;
  }
  if (options.job === undefined) {
    throw new ConfigurationError(
      'running on worker threads needs the job module (options.job = { modulePath, exportName, rawArgs }), or set workers: 0',
    );
  }
  return runOnWorkers(plan, options.job, settings, options.onProgress, options.signal);
}

function resolveSettings(options: ExecutionOptions): Settings {
  const workers = options.workers ?? availableParallelism();
  checkWholeNumber('workers', workers, 0);
  if (options.clock !== undefined && workers > 0) {
    throw new ConfigurationError('a custom clock works only in-process: set workers: 0 or drop the clock option');
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  checkWholeNumber('batchSize', batchSize, 1);
  const maxBatchBytes = options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
  checkWholeNumber('maxBatchBytes', maxBatchBytes, 1);
  const bufferTimeoutMs = options.bufferTimeoutMs ?? 100;
  checkWholeNumber('bufferTimeoutMs', bufferTimeoutMs, 0);
  const channelCredits = options.channelCredits ?? DEFAULT_CHANNEL_CREDITS;
  checkWholeNumber('channelCredits', channelCredits, 1);
  const progressIntervalMs = options.progressIntervalMs ?? 1_000;
  checkWholeNumber('progressIntervalMs', progressIntervalMs, 1);
  return {
    workers,
    clock: options.clock ?? systemClock,
    batchSize,
    maxBatchBytes,
    bufferTimeoutMs,
    channelCredits,
    onBadRecord: validateBadRecordPolicy(options.onBadRecord),
    progressIntervalMs,
    metricsIntervalMs: Math.min(progressIntervalMs, 1_000),
  };
}

function checkWholeNumber(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigurationError(`${name} must be a whole number ≥ ${min}, got ${value}`);
  }
}

/** Completion of a job's tasks: resolves when all finished, rejects with the first failure. */
class JobCompletion {
  readonly done = new Deferred<void>();
  private remaining: number;
  firstError: EddyError | undefined = undefined;

  constructor(taskCount: number) {
    this.remaining = taskCount;
    if (taskCount === 0) this.done.resolve();
  }

  taskFinished(): void {
    if (--this.remaining === 0) this.done.resolve();
  }

  fail(error: unknown): void {
    if (this.firstError !== undefined || this.done.isSettled) return;
    this.firstError = error instanceof EddyError ? error : new EddyError(describeError(error), { cause: error });
    this.done.reject(this.firstError);
  }
}

/** Fails the job when `signal` aborts; returns the function that detaches the listener. */
function cancelOnAbort(signal: AbortSignal | undefined, completion: JobCompletion): () => void {
  if (signal === undefined) return () => {};
  const onAbort = (): void => completion.fail(new EddyError('the job was cancelled', { domain: 'user' }));
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort);
  return () => signal.removeEventListener('abort', onAbort);
}

function countSubtasks(plan: ExecutionPlan): number {
  return plan.vertices.reduce((sum, vertex) => sum + vertex.parallelism, 0);
}

function startProgress(
  metrics: JobMetrics,
  intervalMs: number,
  onProgress: ((progress: JobProgress) => void) | undefined,
  refresh: () => void,
  completion: JobCompletion,
): () => void {
  if (onProgress === undefined) return () => {};
  const timer = setInterval(() => {
    try {
      refresh();
      onProgress(metrics.progress(Date.now()));
    } catch (error) {
      completion.fail(error);
    }
  }, intervalMs);
  return () => clearInterval(timer);
}

/** A job running in this thread; `taskManager` is exposed for tests (counters, quiescence). */
export interface InProcessJob {
  readonly taskManager: TaskManager;
  readonly result: Promise<JobResult>;
}

/** Starts every task in the calling thread. */
export async function startInProcessJob(
  plan: ExecutionPlan,
  settings: Omit<Settings, 'workers' | 'metricsIntervalMs'>,
  onProgress?: (progress: JobProgress) => void,
  signal?: AbortSignal,
): Promise<InProcessJob> {
  const startedAtMs = Date.now();
  const metrics = new JobMetrics(plan, startedAtMs);
  const completion = new JobCompletion(countSubtasks(plan));
  const createKeyedStateBackend = await loadKeyedStateBackendFactory();
  let coordinator: SplitCoordinator | undefined;
  const taskManager = new TaskManager({
    plan,
    topology: buildChannelTopology(plan),
    workerOf: () => 0,
    workerIndex: 0,
    peers: new Map(),
    clock: settings.clock,
    batchLimits: { batchSize: settings.batchSize, maxBatchBytes: settings.maxBatchBytes },
    bufferTimeoutMs: settings.bufferTimeoutMs,
    channelCredits: settings.channelCredits,
    badRecordPolicy: settings.onBadRecord,
    createKeyedStateBackend,
    control: {
      registerReader: (vertexId, subtask) => coordinator!.registerReader(vertexId, subtask),
      requestSplit: (vertexId, subtask) => coordinator!.requestSplit(vertexId, subtask),
      taskFinished: (_vertexId, _subtask, taskMetrics) => {
        metrics.update(taskMetrics);
        completion.taskFinished();
      },
      taskFailed: (error) => completion.fail(error),
    },
  });
  coordinator = new SplitCoordinator(plan, (vertexId, subtask, mail) => taskManager.deliverSplitMail(vertexId, subtask, mail));
  const stopProgress = startProgress(
    metrics,
    settings.progressIntervalMs,
    onProgress,
    () => metrics.update(taskManager.metrics()),
    completion,
  );
  const detachAbort = cancelOnAbort(signal, completion);
  taskManager.start();
  const parallelismOf = (vertexId: number): number => plan.nodes.get(vertexId)!.parallelism;
  coordinator.start(parallelismOf).then(undefined, (error: unknown) => completion.fail(error));

  const run = async (): Promise<JobResult> => {
    try {
      await completion.done.promise;
    } catch (error) {
      await taskManager.cancel();
      await coordinator.close();
      throw error;
    } finally {
      stopProgress();
      detachAbort();
    }
    metrics.update(taskManager.metrics());
    const closeError = await coordinator.close();
    if (closeError !== undefined) throw closeError;
    return metrics.result(plan.graph.jobName, Date.now());
  };
  const result = run();
  return { taskManager, result };
}

async function runOnWorkers(
  plan: ExecutionPlan,
  job: JobModuleRef,
  settings: Settings,
  onProgress: ((progress: JobProgress) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<JobResult> {
  const graph = plan.graph;
  const startedAtMs = Date.now();
  const metrics = new JobMetrics(plan, startedAtMs);
  const completion = new JobCompletion(countSubtasks(plan));
  const numWorkers = Math.max(1, Math.min(settings.workers, countSubtasks(plan)));
  const workerOf = deploySubtasks(plan, numWorkers);
  const fingerprint = fingerprintGraph(graph);

  const peers: Array<Array<{ workerIndex: number; port: MessagePort }>> = Array.from({ length: numWorkers }, () => []);
  for (let i = 0; i < numWorkers; i++) {
    for (let j = i + 1; j < numWorkers; j++) {
      const { port1, port2 } = new MessageChannel();
      peers[i]!.push({ workerIndex: j, port: port1 });
      peers[j]!.push({ workerIndex: i, port: port2 });
    }
  }

  const workers: Worker[] = [];
  const allReady = new Deferred<void>();
  const allCancelled = new Deferred<void>();
  let readyCount = 0;
  /** Workers that confirmed cancellation or exited. */
  const stoppedWorkers = new Set<number>();
  const markStopped = (index: number): void => {
    stoppedWorkers.add(index);
    if (stoppedWorkers.size >= workers.length) allCancelled.resolve();
  };
  let isShuttingDown = false;
  const post = (workerIndex: number, message: ToWorker): void => workers[workerIndex]!.postMessage(message);
  const coordinator = new SplitCoordinator(plan, (vertexId, subtask, mail) =>
    post(workerOf(vertexId, subtask), { kind: 'split-mail', vertexId, subtask, mail }),
  );
  const failJob = (error: unknown): void => {
    completion.fail(error);
    allReady.reject(completion.firstError);
  };

  const handle = (message: FromWorker, workerIndex: number): void => {
    switch (message.kind) {
      case 'ready':
        if (++readyCount === numWorkers) allReady.resolve();
        return;
      case 'register-reader':
        coordinator.registerReader(message.vertexId, message.subtask);
        return;
      case 'split-request':
        coordinator.requestSplit(message.vertexId, message.subtask);
        return;
      case 'task-finished':
        metrics.update(message.metrics);
        completion.taskFinished();
        return;
      case 'metrics':
        metrics.update(message.metrics);
        return;
      case 'failed':
        failJob(deserializeError(message.error));
        return;
      case 'cancelled':
        markStopped(workerIndex);
        return;
      default:
        assertNever(message, 'worker message');
    }
  };

  const workerSettings: WorkerSettings = {
    batchSize: settings.batchSize,
    maxBatchBytes: settings.maxBatchBytes,
    bufferTimeoutMs: settings.bufferTimeoutMs,
    channelCredits: settings.channelCredits,
    onBadRecord: settings.onBadRecord,
    metricsIntervalMs: settings.metricsIntervalMs,
  };
  const bootstrap = new URL('./worker-bootstrap.js', import.meta.url);
  const spawnWorker = (index: number): void => {
    const worker = new Worker(bootstrap);
    workers.push(worker);
    worker.on('message', (message: FromWorker) => {
      try {
        handle(message, index);
      } catch (error) {
        failJob(error);
      }
    });
    worker.on('error', (error: unknown) => failJob(error));
    worker.on('exit', (code: number) => {
      if (!isShuttingDown) failJob(new EddyError(`worker ${index} exited unexpectedly with code ${code}`));
      markStopped(index);
    });
    const ports = peers[index]!;
    const init: ToWorker = {
      kind: 'init',
      workerIndex: index,
      numWorkers,
      job,
      environment: { jobName: graph.jobName, parallelism: graph.defaultParallelism, maxParallelism: graph.maxParallelism },
      fingerprint,
      settings: workerSettings,
      peers: ports,
    };
    worker.postMessage(init, ports.map((peer) => peer.port));
  };

  const stopProgress = startProgress(metrics, settings.progressIntervalMs, onProgress, () => {}, completion);
  const detachAbort = cancelOnAbort(signal, completion);
  completion.done.promise.then(undefined, (error: unknown) => allReady.reject(error));
  try {
    for (let index = 0; index < numWorkers; index++) spawnWorker(index);
    await allReady.promise;
    for (let index = 0; index < numWorkers; index++) post(index, { kind: 'start' });
    const parallelismOf = (vertexId: number): number => plan.nodes.get(vertexId)!.parallelism;
    coordinator.start(parallelismOf).then(undefined, failJob);
    await completion.done.promise;
  } catch (error) {
    isShuttingDown = true;
    for (let index = 0; index < workers.length; index++) post(index, { kind: 'cancel' });
    if (workers.length === 0) allCancelled.resolve();
    const grace = setTimeout(() => allCancelled.resolve(), CANCEL_GRACE_MS);
    await allCancelled.promise;
    clearTimeout(grace);
    await coordinator.close();
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw completion.firstError ?? error;
  } finally {
    stopProgress();
    detachAbort();
  }
  isShuttingDown = true;
  await Promise.all(workers.map((worker) => worker.terminate()));
  const closeError = await coordinator.close();
  if (closeError !== undefined) throw closeError;
  return metrics.result(graph.jobName, Date.now());
}
