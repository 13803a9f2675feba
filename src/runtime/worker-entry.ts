import { parentPort } from 'node:worker_threads';
import { ConfigurationError, EddyError, assertNever } from '../core/errors.ts';
import { systemClock } from '../core/time.ts';
import { fingerprintGraph } from '../graph/fingerprint.ts';
import { planJob } from '../graph/plan.ts';
import { buildChannelTopology, deploySubtasks } from './channel-topology.ts';
import type { FromWorker, ToWorker, WorkerInit } from './control-messages.ts';
import type { StateHandle } from '../checkpoint/checkpoint-metadata.ts';
import type { OperatorSnapshot } from '../operators/operator.ts';
import { deserializeError, serializeError } from './error-codec.ts';
import { buildJobGraph } from './job-loader.ts';
import { PeerLink } from './peer-link.ts';
import { loadKeyedStateBackendFactory } from './state-backend-factory.ts';
import { TaskManager } from './task-manager.ts';

/**
 * A worker thread: builds the job's graph from the job module itself (functions can't cross threads),
 * checks its fingerprint against the job manager's, then runs the subtasks deployed to it. Data moves
 * to the other workers over direct ports; control goes to and from the job manager.
 */
const port = parentPort;
if (port === null) throw new EddyError('worker-entry.ts must run in a worker thread');

let taskManager: TaskManager | undefined;
let links: PeerLink[] = [];
let metricsTimer: NodeJS.Timeout | undefined;
let hasFailed = false;
/** Requests to the job manager (state writes and reads) awaiting their answer, by request id. */
const pendingRequests = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
let nextRequestId = 1;

/** Sends a request built with a fresh id; resolves with the answer's payload. */
function request<T>(build: (requestId: number) => FromWorker): Promise<T> {
  const requestId = nextRequestId++;
  return new Promise<T>((resolve, reject) => {
    pendingRequests.set(requestId, { resolve: resolve as (value: unknown) => void, reject });
    send(build(requestId));
  });
}

function answer(requestId: number, value: unknown, error: Parameters<typeof deserializeError>[0] | undefined): void {
  const pending = pendingRequests.get(requestId);
  if (pending === undefined) return;
  pendingRequests.delete(requestId);
  if (error !== undefined) pending.reject(deserializeError(error));
  else pending.resolve(value);
}

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function fail(error: unknown): void {
  if (hasFailed) return;
  hasFailed = true;
  send({ kind: 'failed', error: serializeError(error) });
}

async function initialize(init: WorkerInit): Promise<void> {
  const graph = await buildJobGraph(init.job, init.environment);
  const fingerprint = fingerprintGraph(graph);
  if (fingerprint !== init.fingerprint) {
    throw new ConfigurationError(
      `worker ${init.workerIndex} built a different graph from ${init.job.modulePath} than the job manager ` +
        `(fingerprint ${fingerprint.slice(0, 12)} vs ${init.fingerprint.slice(0, 12)}): building a job must be ` +
        'deterministic — no randomness, clock, environment or thread-dependent choices in build()',
    );
  }
  const plan = planJob(graph, { chainKeyedEdges: init.settings.stateBackend.kind === 'memory' });
  const peers = new Map<number, PeerLink>();
  for (const peer of init.peers) {
    const link = new PeerLink(peer.port, fail);
    peers.set(peer.workerIndex, link);
    links.push(link);
  }
  const createKeyedStateBackend = await loadKeyedStateBackendFactory(init.settings.stateBackend, init.settings.attempt);
  const mode = init.settings.checkpointingMode;
  taskManager = new TaskManager({
    plan,
    topology: buildChannelTopology(plan),
    workerOf: deploySubtasks(plan, init.numWorkers),
    workerIndex: init.workerIndex,
    peers,
    clock: systemClock,
    batchLimits: { batchSize: init.settings.batchSize, maxBatchBytes: init.settings.maxBatchBytes },
    bufferTimeoutMs: init.settings.bufferTimeoutMs,
    channelCredits: init.settings.channelCredits,
    badRecordPolicy: init.settings.onBadRecord,
    createKeyedStateBackend,
    control: {
      registerReader: (vertexId, subtask) => send({ kind: 'register-reader', vertexId, subtask }),
      requestSplit: (vertexId, subtask) => send({ kind: 'split-request', vertexId, subtask }),
      taskFinished: (vertexId, subtask, metrics) => send({ kind: 'task-finished', vertexId, subtask, metrics }),
      taskFailed: fail,
      acknowledgeCheckpoint: (vertexId, subtask, checkpointId, states, isFinished) =>
        send({ kind: 'checkpoint-ack', vertexId, subtask, checkpointId, states, isFinished }),
      declineCheckpoint: (vertexId, subtask, checkpointId, reason) =>
        send({ kind: 'checkpoint-decline', vertexId, subtask, checkpointId, reason }),
      taskEnded: (vertexId, subtask) => send({ kind: 'task-ended', vertexId, subtask }),
    },
    attempt: init.settings.attempt,
    checkpointing:
      mode === undefined
        ? undefined
        : {
            mode,
            writeState: (checkpointId, uid, subtask, keyGroupRange, isFinished, snapshot) =>
              request<StateHandle>((requestId) => ({
                kind: 'write-state',
                requestId,
                checkpointId,
                uid,
                subtask,
                keyGroupRange,
                isFinished,
                snapshot,
              })),
          },
    restoredState: init.settings.isRestoring
      ? (uid, subtask) => request<OperatorSnapshot | undefined>((requestId) => ({ kind: 'read-state', requestId, uid, subtask }))
      : undefined,
  });
  metricsTimer = setInterval(() => {
    if (taskManager !== undefined) send({ kind: 'metrics', metrics: taskManager.metrics() });
  }, init.settings.metricsIntervalMs);
  send({ kind: 'ready' });
}

async function cancel(): Promise<void> {
  if (metricsTimer !== undefined) clearInterval(metricsTimer);
  await taskManager?.cancel();
  for (const link of links) link.close();
  links = [];
  send({ kind: 'cancelled' });
}

function handle(message: ToWorker): void {
  switch (message.kind) {
    case 'init':
      initialize(message).then(undefined, fail);
      return;
    case 'start':
      taskManager?.start();
      return;
    case 'split-mail':
      taskManager?.deliverSplitMail(message.vertexId, message.subtask, message.mail);
      return;
    case 'cancel':
      cancel().then(undefined, fail);
      return;
    case 'trigger-checkpoint':
      taskManager?.triggerCheckpoint(message.vertexId, message.subtask, message.checkpointId);
      return;
    case 'checkpoint-complete':
      taskManager?.notifyCheckpointComplete(message.checkpointId, message.isFinal);
      return;
    case 'checkpoint-aborted':
      taskManager?.notifyCheckpointAborted(message.checkpointId);
      return;
    case 'state-written':
      answer(message.requestId, message.handle, message.error);
      return;
    case 'restored-state':
      answer(message.requestId, message.snapshot, message.error);
      return;
    default:
      assertNever(message, 'control message');
  }
}

port.on('message', (message: ToWorker) => {
  try {
    handle(message);
  } catch (error) {
    fail(error);
  }
});
