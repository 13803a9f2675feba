import { availableParallelism } from 'node:os';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { JobModuleRef } from '../api/job.ts';
import { DEFAULT_CHECKPOINT_CONFIG, checkCheckpointConfig, type CheckpointConfig } from '../checkpoint/checkpoint-config.ts';
import { CheckpointCoordinator, type CheckpointedOperator } from '../checkpoint/checkpoint-coordinator.ts';
import type { CheckpointFileSystem } from '../checkpoint/checkpoint-file-system.ts';
import { CheckpointStorage, loadCheckpoint, type KeyedStatePart, type RestoredCheckpoint } from '../checkpoint/checkpoint-storage.ts';
import { checkRestoreCompatibility, oldSubtasksFor, redistributeSnapshots } from '../checkpoint/restore-assignment.ts';
import { DEFAULT_RESTART_STRATEGY, createRestartStrategy, type RestartStrategySpec } from '../checkpoint/restart-strategy.ts';
import type { EnumeratorCheckpoint, SourceSplit } from '../connector/source.ts';
import type { OperatorSnapshot } from '../operators/operator.ts';
import { ConfigurationError, EddyError, assertNever, describeError } from '../core/errors.ts';
import { systemClock, type Clock } from '../core/time.ts';
import { fingerprintGraph } from '../graph/fingerprint.ts';
import { planJob, type ExecutionPlan } from '../graph/plan.ts';
import type { StreamGraph } from '../graph/stream-graph.ts';
import { validateBadRecordPolicy, type BadRecordPolicy } from './bad-record-handler.ts';
import { buildChannelTopology, deploySubtasks } from './channel-topology.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './control-messages.ts';
import { Deferred } from './deferred.ts';
import { deserializeError, serializeError } from './error-codec.ts';
import { JobMetrics, type JobProgress, type JobResult } from './job-metrics.ts';
import { DEFAULT_CHANNEL_CREDITS } from './output-channel.ts';
import { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES } from './record-writer.ts';
import { SplitCoordinator } from './split-coordinator.ts';
import { loadKeyedStateBackendFactory, resolveStateBackend, type ResolvedStateBackend } from './state-backend-factory.ts';
import { createStateRunFolder, removeAttemptFolders, removeStateRunFolder } from './state-run-folder.ts';
import type { StateBackendConfig } from '../state/state-backend-config.ts';
import { TaskManager, type TaskControl } from './task-manager.ts';

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
  /** Checkpoints and automatic recovery; absent: no checkpoints, a failure fails the job. */
  readonly checkpointing?: ExecutionCheckpointing;
  /** Restores from this checkpoint (a `chk-<id>` folder, or a checkpoint dir: its latest completed one). */
  readonly fromCheckpoint?: string;
  /** Lines for the user (restarts, checkpoint fallbacks and aborts). Default: none. */
  readonly log?: (line: string) => void;
  /** Where keyed state lives; default the job's choice (`env.setStateBackend`), else the memory backend. */
  readonly stateBackend?: StateBackendConfig;
}

/** Checkpointing of one job run; times in ms. Unset fields take {@link DEFAULT_CHECKPOINT_CONFIG}. */
export interface ExecutionCheckpointing extends Partial<Omit<CheckpointConfig, 'mode' | 'dir'>> {
  readonly mode: 'exactly-once' | 'at-least-once';
  readonly dir: string;
  /** What to do after a failure; default exponential delay (1 s to 1 min). */
  readonly restartStrategy?: RestartStrategySpec;
  /** The storage boundary (tests inject faults here). */
  readonly fs?: CheckpointFileSystem;
}

export type { JobProgress, JobResult, OperatorResult } from './job-metrics.ts';

interface Settings extends Omit<WorkerSettings, 'checkpointingMode' | 'attempt' | 'isRestoring'> {
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
  const backend = options.stateBackend ?? resolveStateBackend(graph.stateBackend);
  const plan = planJob(graph, { chainKeyedEdges: backend.kind === 'memory' });
  const job = options.job;
  if ((options.workers ?? availableParallelism()) > 0 && job === undefined) {
    throw new ConfigurationError(
      'running on worker threads needs the job module (options.job = { modulePath, exportName, rawArgs }), or set workers: 0',
    );
  }
  const log = options.log ?? (() => {});
  const recovery = await prepareRecovery(plan, options, log);
  if (backend.kind === 'memory') return runAttempts(plan, { ...resolveSettings(options), stateBackend: backend }, options, recovery, log);
  const runFolder = await createStateRunFolder(backend.dir, plan.graph.jobName, log);
  try {
    const memoryBytesPerBackend = Math.max(1, Math.floor(backend.memoryBytes / Math.max(1, countKeyedSubtasks(plan))));
    const stateBackend: ResolvedStateBackend = { kind: 'rocksdb', runFolder, memoryBytesPerBackend };
    // A failed attempt's databases are of no use to the next one (it restores from the checkpoint): free their space.
    const discardAttempt = (attempt: number): Promise<void> => removeAttemptFolders(runFolder, attempt, log);
    return await runAttempts(plan, { ...resolveSettings(options), stateBackend }, options, recovery, log, discardAttempt);
  } finally {
    await removeStateRunFolder(runFolder, log);
  }
}

/** Keyed operator subtasks of the plan: the ones that get a keyed state backend (and a cache share). */
function countKeyedSubtasks(plan: ExecutionPlan): number {
  const keyed = new Set(plan.graph.edges.filter((edge) => edge.partitioning.kind === 'hash').map((edge) => edge.targetId));
  let count = 0;
  for (const id of keyed) count += plan.nodes.get(id)!.parallelism;
  return count;
}

/** Runs the job, restarting it from the latest checkpoint after failures as the restart strategy allows. */
async function runAttempts(
  plan: ExecutionPlan,
  settings: Settings,
  options: ExecutionOptions,
  recovery: Recovery,
  log: (line: string) => void,
  discardAttempt: (attempt: number) => Promise<void> = async () => {},
): Promise<JobResult> {
  const job = options.job;
  let restored = recovery.restored;
  let attempt = 1;
  for (;;) {
    const run: AttemptContext = { attempt, restored, storage: recovery.storage, config: recovery.config, log };
    try {
      if (settings.workers === 0) {
        const started = await startInProcessJob(plan, settings, options.onProgress, options.signal, run);
        return await started.result;
      }
      return await runOnWorkers(plan, job!, settings, options.onProgress, options.signal, run);
    } catch (error) {
      const storage = recovery.storage;
      if (storage === undefined || options.signal?.aborted === true || error instanceof ConfigurationError) throw error;
      const delayMs = recovery.restartStrategy.nextDelay(Date.now());
      if (delayMs === 'fail') throw error;
      restored = (await storage.latestCompleted()) ?? restored;
      if (restored !== undefined) checkRestorable(plan, restored);
      const from = restored === undefined ? 'the beginning' : path.basename(restored.path);
      log(`restarting job from ${from} (attempt ${attempt + 1}) after: ${describeError(error)}`);
      await sleep(delayMs, options.signal);
      if (isAborted(options.signal)) throw error;
      await discardAttempt(attempt);
      attempt++;
    }
  }
}

/** What one run attempt restores from and checkpoints to. */
interface AttemptContext {
  /** 1 for the first run; each restart counts up. */
  readonly attempt: number;
  readonly restored: RestoredCheckpoint | undefined;
  /** Set when the job checkpoints. */
  readonly storage: CheckpointStorage | undefined;
  readonly config: CheckpointConfig | undefined;
  readonly log: (line: string) => void;
}

const NO_CHECKPOINTING: AttemptContext = { attempt: 1, restored: undefined, storage: undefined, config: undefined, log: () => {} };

interface Recovery {
  readonly storage: CheckpointStorage | undefined;
  readonly config: CheckpointConfig | undefined;
  readonly restored: RestoredCheckpoint | undefined;
  readonly restartStrategy: ReturnType<typeof createRestartStrategy>;
}

/** Opens the checkpoint storage and loads the checkpoint to start from, checking it fits the job. */
async function prepareRecovery(plan: ExecutionPlan, options: ExecutionOptions, log: (line: string) => void): Promise<Recovery> {
  const checkpointing = options.checkpointing;
  let config: CheckpointConfig | undefined;
  let storage: CheckpointStorage | undefined;
  if (checkpointing !== undefined) {
    config = checkCheckpointConfig({
      ...DEFAULT_CHECKPOINT_CONFIG,
      ...Object.fromEntries(Object.entries(checkpointing).filter(([, value]) => value !== undefined)),
      mode: checkpointing.mode,
      dir: checkpointing.dir,
    });
    storage = await CheckpointStorage.open({
      dir: config.dir,
      jobName: plan.graph.jobName,
      graphFingerprint: fingerprintGraph(plan.graph),
      retained: config.retained,
      fs: checkpointing.fs,
      log,
    });
  }
  let restored: RestoredCheckpoint | undefined;
  if (options.fromCheckpoint !== undefined) {
    restored = await loadCheckpoint(options.fromCheckpoint, { fs: checkpointing?.fs, log });
    if (restored.metadata.jobName !== plan.graph.jobName) {
      throw new ConfigurationError(
        `cannot restore from checkpoint '${restored.path}': it belongs to job '${restored.metadata.jobName}', not '${plan.graph.jobName}'`,
      );
    }
    checkRestorable(plan, restored);
  }
  const restartStrategy = createRestartStrategy(
    checkpointing === undefined ? { kind: 'none' } : (checkpointing.restartStrategy ?? DEFAULT_RESTART_STRATEGY),
  );
  return { storage, config, restored, restartStrategy };
}

function checkRestorable(plan: ExecutionPlan, restored: RestoredCheckpoint): void {
  checkRestoreCompatibility(
    restored,
    plan.graph.nodes.map((node) => {
      const planned = plan.nodes.get(node.id)!;
      return {
        uid: node.uid,
        parallelism: planned.parallelism,
        maxParallelism: planned.maxParallelism,
        isStateful: node.isStateful || node.source !== undefined || node.isSink,
      };
    }),
    { allowNonRestoredState: false },
  );
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, delayMs);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}

/**
 * The state operator subtasks restore from `restored`, redistributed to the plan's parallelism by key
 * groups (keyed state) and round-robin (operator list state). Each old file is read once.
 */
function restoredStateOf(
  plan: ExecutionPlan,
  restored: RestoredCheckpoint,
): (uid: string, subtask: number) => Promise<OperatorSnapshot | undefined> {
  const reads = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    let pending = reads.get(key);
    if (pending === undefined) reads.set(key, (pending = read()));
    return pending as Promise<T>;
  };
  const plannedByUid = new Map(plan.graph.nodes.map((node) => [node.uid, plan.nodes.get(node.id)!]));
  return async (uid, subtask) => {
    const operator = restored.metadata.operators.find((candidate) => candidate.uid === uid);
    const planned = plannedByUid.get(uid);
    if (operator === undefined || planned === undefined) return undefined;
    const needed = oldSubtasksFor(operator, subtask, planned.parallelism);
    const oldSubtasks = [...new Set([...needed.operatorState, ...needed.keyed])].sort((a, b) => a - b);
    const old = await Promise.all(
      oldSubtasks.map(async (oldSubtask) => {
        const [operatorPart, keyedPart] = await Promise.all([
          needed.operatorState.includes(oldSubtask)
            ? once(`${uid}/${oldSubtask}/operator`, () => restored.readOperatorState(uid, oldSubtask))
            : { operatorState: {} },
          needed.keyed.includes(oldSubtask)
            ? once(`${uid}/${oldSubtask}/keyed`, () => restored.readKeyedState(uid, oldSubtask))
            : ({ keyed: undefined } satisfies KeyedStatePart as KeyedStatePart),
        ]);
        const snapshot: OperatorSnapshot = {
          keyed: keyedPart.keyed,
          ...operatorPart,
          ...(keyedPart.native === undefined ? {} : { restoredNativeKeyed: [keyedPart.native] }),
        };
        return { subtask: oldSubtask, snapshot };
      }),
    );
    return redistributeSnapshots(old, subtask, planned.parallelism, planned.maxParallelism);
  };
}

/** The split enumerators' state in `restored`, by source uid. */
async function restoredEnumeratorsOf(
  restored: RestoredCheckpoint | undefined,
): Promise<Map<string, EnumeratorCheckpoint<SourceSplit>>> {
  const result = new Map<string, EnumeratorCheckpoint<SourceSplit>>();
  if (restored === undefined) return result;
  for (const enumerator of restored.metadata.enumerators) {
    const state = await restored.readEnumeratorState(enumerator.uid);
    if (typeof state !== 'object' || state === null || !Array.isArray((state as { unassigned?: unknown }).unassigned)) {
      throw new EddyError(`the enumerator state of source '${enumerator.uid}' in '${restored.path}' is malformed`);
    }
    result.set(enumerator.uid, state as EnumeratorCheckpoint<SourceSplit>);
  }
  return result;
}

function taskKey(vertexId: number, subtask: number): string {
  return `${vertexId}/${subtask}`;
}

function parseTaskKey(key: string): readonly [vertexId: number, subtask: number] {
  const [vertexId, subtask] = key.split('/').map(Number);
  return [vertexId!, subtask!];
}

/** The effects a checkpoint coordinator needs from where the tasks run (this thread or workers). */
interface TaskRoutes {
  trigger(vertexId: number, subtask: number, checkpointId: number): void;
  notifyComplete(checkpointId: number, isFinal: boolean): void;
  notifyAborted(checkpointId: number): void;
}

/** The coordinator of one run attempt, wired to storage, the split enumerators and the tasks. */
function createCheckpointCoordinator(
  plan: ExecutionPlan,
  run: AttemptContext,
  splits: () => SplitCoordinator,
  routes: TaskRoutes,
  metrics: JobMetrics,
  failJob: (error: unknown) => void,
): CheckpointCoordinator | undefined {
  const { storage, config } = run;
  if (storage === undefined || config === undefined) return undefined;
  const operators: CheckpointedOperator[] = plan.graph.nodes.map((node) => {
    const planned = plan.nodes.get(node.id)!;
    return { uid: node.uid, name: node.name, kind: node.kind, parallelism: planned.parallelism, maxParallelism: planned.maxParallelism };
  });
  const taskKeys: string[] = [];
  const sourceTaskKeys: string[] = [];
  for (const vertex of plan.vertices) {
    const isSource = plan.nodes.get(vertex.id)!.node.source !== undefined;
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      taskKeys.push(taskKey(vertex.id, subtask));
      if (isSource) sourceTaskKeys.push(taskKey(vertex.id, subtask));
    }
  }
  return new CheckpointCoordinator({
    config,
    jobName: plan.graph.jobName,
    graphFingerprint: fingerprintGraph(plan.graph),
    operators,
    taskKeys,
    sourceTaskKeys,
    nextCheckpointId: () => storage.nextCheckpointId(),
    hooks: {
      triggerTasks: (checkpointId, keys) => {
        for (const key of keys) {
          const [vertexId, subtask] = parseTaskKey(key);
          routes.trigger(vertexId, subtask, checkpointId);
        }
      },
      snapshotEnumerators: async (checkpointId) => {
        const states = splits().snapshotEnumerators(checkpointId);
        return Promise.all(states.map(({ uid, state }) => storage.writeEnumeratorState(checkpointId, uid, state)));
      },
      completeCheckpoint: (metadata) => storage.completeCheckpoint(metadata),
      abortCheckpoint: (checkpointId) => storage.abortCheckpoint(checkpointId),
      notifyComplete: (checkpointId, isFinal) => routes.notifyComplete(checkpointId, isFinal),
      notifyAborted: (checkpointId) => routes.notifyAborted(checkpointId),
      onCompleted: (stats) => metrics.checkpointCompleted(stats),
      failJob,
      log: run.log,
    },
  });
}

function resolveSettings(options: ExecutionOptions): Omit<Settings, 'stateBackend'> {
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
  run: AttemptContext = NO_CHECKPOINTING,
): Promise<InProcessJob> {
  const startedAtMs = Date.now();
  const metrics = new JobMetrics(plan, startedAtMs);
  const completion = new JobCompletion(countSubtasks(plan));
  const createKeyedStateBackend = await loadKeyedStateBackendFactory(settings.stateBackend, run.attempt);
  const restoredEnumerators = await restoredEnumeratorsOf(run.restored);
  let coordinator: SplitCoordinator | undefined;
  let checkpoints: CheckpointCoordinator | undefined;
  const storage = run.storage;
  const taskManager: TaskManager = new TaskManager({
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
      acknowledgeCheckpoint: (vertexId, subtask, checkpointId, states, isFinished) =>
        checkpoints?.acknowledge(checkpointId, taskKey(vertexId, subtask), states, isFinished),
      declineCheckpoint: (vertexId, subtask, checkpointId, reason) =>
        checkpoints?.decline(checkpointId, taskKey(vertexId, subtask), reason),
      taskEnded: (vertexId, subtask) => checkpoints?.taskEnded(taskKey(vertexId, subtask)),
    },
    attempt: run.attempt,
    checkpointing:
      storage === undefined || run.config === undefined || run.config.mode === 'off'
        ? undefined
        : { mode: run.config.mode, writeState: (...args) => storage.writeOperatorState(...args) },
    restoredState: run.restored === undefined ? undefined : restoredStateOf(plan, run.restored),
  });
  coordinator = new SplitCoordinator(
    plan,
    (vertexId, subtask, mail) => taskManager.deliverSplitMail(vertexId, subtask, mail),
    restoredEnumerators,
  );
  checkpoints = createCheckpointCoordinator(
    plan,
    run,
    () => coordinator!,
    {
      trigger: (vertexId, subtask, checkpointId) => taskManager.triggerCheckpoint(vertexId, subtask, checkpointId),
      notifyComplete: (checkpointId, isFinal) => taskManager.notifyCheckpointComplete(checkpointId, isFinal),
      notifyAborted: (checkpointId) => taskManager.notifyCheckpointAborted(checkpointId),
    },
    metrics,
    (error) => completion.fail(error),
  );
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
  checkpoints?.start();

  const execute = async (): Promise<JobResult> => {
    try {
      await completion.done.promise;
    } catch (error) {
      checkpoints?.stop();
      await checkpoints?.settled();
      await taskManager.cancel();
      await coordinator.close();
      throw error;
    } finally {
      checkpoints?.stop();
      stopProgress();
      detachAbort();
    }
    metrics.update(taskManager.metrics());
    const closeError = await coordinator.close();
    if (closeError !== undefined) throw closeError;
    return metrics.result(plan.graph.jobName, Date.now());
  };
  const result = execute();
  return { taskManager, result };
}

async function runOnWorkers(
  plan: ExecutionPlan,
  job: JobModuleRef,
  settings: Settings,
  onProgress: ((progress: JobProgress) => void) | undefined,
  signal: AbortSignal | undefined,
  run: AttemptContext,
): Promise<JobResult> {
  const graph = plan.graph;
  const restoredEnumerators = await restoredEnumeratorsOf(run.restored);
  const restoredState = run.restored === undefined ? undefined : restoredStateOf(plan, run.restored);
  const storage = run.storage;
  const mode = storage === undefined || run.config === undefined || run.config.mode === 'off' ? undefined : run.config.mode;
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
  const coordinator = new SplitCoordinator(
    plan,
    (vertexId, subtask, mail) => post(workerOf(vertexId, subtask), { kind: 'split-mail', vertexId, subtask, mail }),
    restoredEnumerators,
  );
  const failJob = (error: unknown): void => {
    completion.fail(error);
    allReady.reject(completion.firstError);
  };
  const broadcast = (message: ToWorker): void => {
    for (let index = 0; index < workers.length; index++) post(index, message);
  };
  const checkpoints = createCheckpointCoordinator(
    plan,
    run,
    () => coordinator,
    {
      trigger: (vertexId, subtask, checkpointId) =>
        post(workerOf(vertexId, subtask), { kind: 'trigger-checkpoint', vertexId, subtask, checkpointId }),
      notifyComplete: (checkpointId, isFinal) => broadcast({ kind: 'checkpoint-complete', checkpointId, isFinal }),
      notifyAborted: (checkpointId) => broadcast({ kind: 'checkpoint-aborted', checkpointId }),
    },
    metrics,
    failJob,
  );
  /** Answers a worker's request with the outcome of `work` (state files are written here only). */
  const answer = <T>(
    workerIndex: number,
    work: () => Promise<T>,
    reply: (value: T | undefined, error: ReturnType<typeof serializeError> | undefined) => ToWorker,
  ): void => {
    work().then(
      (value) => {
        if (!isShuttingDown) post(workerIndex, reply(value, undefined));
      },
      (error: unknown) => {
        if (!isShuttingDown) post(workerIndex, reply(undefined, serializeError(error)));
      },
    );
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
      case 'checkpoint-ack':
        checkpoints?.acknowledge(message.checkpointId, taskKey(message.vertexId, message.subtask), message.states, message.isFinished);
        return;
      case 'checkpoint-decline':
        checkpoints?.decline(message.checkpointId, taskKey(message.vertexId, message.subtask), message.reason);
        return;
      case 'task-ended':
        checkpoints?.taskEnded(taskKey(message.vertexId, message.subtask));
        return;
      case 'write-state': {
        const { requestId, checkpointId, uid, subtask, keyGroupRange, isFinished, snapshot } = message;
        answer(
          workerIndex,
          async () => {
            if (storage === undefined) throw new EddyError('a worker wrote checkpoint state with checkpointing off');
            return storage.writeOperatorState(checkpointId, uid, subtask, keyGroupRange, isFinished, snapshot);
          },
          (handle, error) => ({ kind: 'state-written', requestId, handle, error }),
        );
        return;
      }
      case 'read-state': {
        const { requestId, uid, subtask } = message;
        answer(
          workerIndex,
          async () => (restoredState === undefined ? undefined : restoredState(uid, subtask)),
          (snapshot, error) => ({ kind: 'restored-state', requestId, snapshot, error }),
        );
        return;
      }
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
    stateBackend: settings.stateBackend,
    checkpointingMode: mode,
    attempt: run.attempt,
    isRestoring: run.restored !== undefined,
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
    checkpoints?.start();
    await completion.done.promise;
    checkpoints?.stop();
  } catch (error) {
    checkpoints?.stop();
    await checkpoints?.settled();
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
