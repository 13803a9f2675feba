import { parentPort } from 'node:worker_threads';
import { ConfigurationError, EddyError, assertNever } from '../core/errors.ts';
import { systemClock } from '../core/time.ts';
import { fingerprintGraph } from '../graph/fingerprint.ts';
import { planJob } from '../graph/plan.ts';
import { buildChannelTopology, deploySubtasks } from './channel-topology.ts';
import type { FromWorker, ToWorker, WorkerInit } from './control-messages.ts';
import { serializeError } from './error-codec.ts';
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
  const plan = planJob(graph);
  const peers = new Map<number, PeerLink>();
  for (const peer of init.peers) {
    const link = new PeerLink(peer.port, fail);
    peers.set(peer.workerIndex, link);
    links.push(link);
  }
  const createKeyedStateBackend = await loadKeyedStateBackendFactory();
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
    },
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
