import type { AcknowledgedState } from '../checkpoint/checkpoint-coordinator.ts';
import type { StateHandle } from '../checkpoint/checkpoint-metadata.ts';
import { ConfigurationError, EddyError } from '../core/errors.ts';
import { computeKeyGroupRangeForOperatorIndex } from '../core/key-group.ts';
import type { Clock } from '../core/time.ts';
import type { ExecutionPlan, JobVertex } from '../graph/plan.ts';
import type { StreamEdge } from '../graph/stream-graph.ts';
import { OperatorMetrics, type OperatorMetricsSnapshot } from '../operators/operator-metrics.ts';
import type { OperatorContext, OperatorSnapshot, StreamOperator } from '../operators/operator.ts';
import type { KeyedStateBackend, KeyedStateBackendOptions } from '../state/keyed-state-backend.ts';
import type { BadRecordPolicy } from './bad-record-handler.ts';
import type { ChannelTopology } from './channel-topology.ts';
import type { InputChannel } from './input-channel.ts';
import { InputGate } from './input-gate.ts';
import { createLocalChannel } from './local-channel.ts';
import { attributeError, createChainOutput, type ChainedSuccessor } from './operator-chain.ts';
import type { OutputChannel } from './output-channel.ts';
import { createPartitioner } from './partitioner.ts';
import type { PeerLink } from './peer-link.ts';
import { RecordWriter, type BatchLimits } from './record-writer.ts';
import { SourceOperator } from './source-operator.ts';
import { Task, type ChainMember, type SplitMail, type TaskCheckpointing } from './task.ts';
import { TaskScheduler } from './task-scheduler.ts';

/** Per (node, subtask) metrics, as reported to the job manager. */
export type SubtaskMetrics = readonly [nodeId: number, subtask: number, metrics: OperatorMetricsSnapshot];

/** What tasks tell the job manager (directly in-process, as messages from a worker). */
export interface TaskControl {
  registerReader(vertexId: number, subtask: number): void;
  requestSplit(vertexId: number, subtask: number): void;
  taskFinished(vertexId: number, subtask: number, metrics: readonly SubtaskMetrics[]): void;
  taskFailed(error: EddyError): void;
  acknowledgeCheckpoint(
    vertexId: number,
    subtask: number,
    checkpointId: number,
    states: readonly AcknowledgedState[],
    isFinished: boolean,
  ): void;
  declineCheckpoint(vertexId: number, subtask: number, checkpointId: number, reason: string): void;
  /** The task processed all its input and waits for the final checkpoint (checkpointing only). */
  taskEnded(vertexId: number, subtask: number): void;
}

/** How this thread's tasks checkpoint (absent: checkpointing off). */
export interface TaskManagerCheckpointing {
  readonly mode: 'exactly-once' | 'at-least-once';
  writeState(
    checkpointId: number,
    uid: string,
    subtask: number,
    keyGroupRange: readonly [number, number],
    isFinished: boolean,
    snapshot: OperatorSnapshot,
  ): Promise<StateHandle>;
}

/** What one thread's task manager needs to create and run its share of the subtasks. */
export interface TaskManagerOptions {
  readonly plan: ExecutionPlan;
  readonly topology: ChannelTopology;
  readonly workerOf: (vertexId: number, subtask: number) => number;
  /** This thread's worker index (0 in-process). */
  readonly workerIndex: number;
  /** Links to the other workers, by worker index. */
  readonly peers: ReadonlyMap<number, PeerLink>;
  readonly clock: Clock;
  readonly batchLimits: BatchLimits;
  readonly bufferTimeoutMs: number;
  readonly channelCredits: number;
  readonly badRecordPolicy: BadRecordPolicy;
  readonly createKeyedStateBackend: (options: KeyedStateBackendOptions) => KeyedStateBackend;
  readonly control: TaskControl;
  readonly checkpointing?: TaskManagerCheckpointing;
  /** This run attempt's number (1 for the first; restarts count up). Default 1. */
  readonly attempt?: number;
  /** The snapshot operator subtask `subtask` restores from (already redistributed), if restoring. */
  readonly restoredState?: (uid: string, subtask: number) => Promise<OperatorSnapshot | undefined>;
}

/**
 * The tasks of one thread (Flink's TaskManager): builds a task per subtask deployed here — operators,
 * chain outputs, record writers, input gate — and the thread's ends of every channel: a local channel
 * when both ends run here, a multiplexed port channel otherwise.
 */
export class TaskManager {
  readonly tasks: Task[] = [];
  private readonly taskByKey = new Map<string, Task>();
  private readonly scheduler = new TaskScheduler();
  private readonly outputs = new Map<number, OutputChannel>();
  private readonly inputs = new Map<number, InputChannel>();
  private readonly chainedFrom = new Map<number, StreamEdge[]>();

  constructor(private readonly options: TaskManagerOptions) {
    this.createChannels();
    for (const edge of options.plan.chainedEdges) {
      let list = this.chainedFrom.get(edge.sourceId);
      if (list === undefined) this.chainedFrom.set(edge.sourceId, (list = []));
      list.push(edge);
    }
    for (const vertex of options.plan.vertices) {
      for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
        if (options.workerOf(vertex.id, subtask) !== options.workerIndex) continue;
        const task = this.buildTask(vertex, subtask);
        this.tasks.push(task);
        this.taskByKey.set(`${vertex.id}/${subtask}`, task);
      }
    }
  }

  start(): void {
    for (const task of this.tasks) task.start();
  }

  deliverSplitMail(vertexId: number, subtask: number, mail: SplitMail): void {
    const task = this.taskByKey.get(`${vertexId}/${subtask}`);
    if (task === undefined) throw new EddyError(`no task for vertex ${vertexId} subtask ${subtask} in this worker`);
    task.deliverSplitMail(mail);
  }

  triggerCheckpoint(vertexId: number, subtask: number, checkpointId: number): void {
    this.task(vertexId, subtask).triggerCheckpoint(checkpointId);
  }

  notifyCheckpointComplete(checkpointId: number, isFinal: boolean): void {
    for (const task of this.tasks) task.notifyCheckpointComplete(checkpointId, isFinal);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    for (const task of this.tasks) task.notifyCheckpointAborted(checkpointId);
  }

  private task(vertexId: number, subtask: number): Task {
    const task = this.taskByKey.get(`${vertexId}/${subtask}`);
    if (task === undefined) throw new EddyError(`no task for vertex ${vertexId} subtask ${subtask} in this worker`);
    return task;
  }

  /** Cancels every task (closing its operators); resolves when all are closed. */
  async cancel(): Promise<void> {
    this.scheduler.stop();
    await Promise.all(this.tasks.map((task) => task.cancel()));
  }

  metrics(): SubtaskMetrics[] {
    const result: SubtaskMetrics[] = [];
    for (const task of this.tasks) {
      for (const [nodeId, metrics] of task.metricsSnapshot()) result.push([nodeId, task.subtask, metrics]);
    }
    return result;
  }

  /** Resolves once no task of this thread can make progress (for tests: the job is stalled or done). */
  whenIdle(): Promise<void> {
    return this.scheduler.whenIdle();
  }

  /** Counters of the channels ending here, for tests: the most batches any input channel queued. */
  maxQueuedBatches(): number {
    let max = 0;
    for (const input of this.inputs.values()) max = Math.max(max, input.maxQueuedBatches);
    return max;
  }

  private createChannels(): void {
    const { topology, workerOf, workerIndex, peers, channelCredits } = this.options;
    for (const spec of topology.channels) {
      const producerWorker = workerOf(spec.producerVertex, spec.producerSubtask);
      const consumerWorker = workerOf(spec.consumerVertex, spec.consumerSubtask);
      if (producerWorker === workerIndex && consumerWorker === workerIndex) {
        const { output, input } = createLocalChannel(spec.channelId, channelCredits);
        this.outputs.set(spec.channelId, output);
        this.inputs.set(spec.channelId, input);
      } else if (producerWorker === workerIndex) {
        this.outputs.set(spec.channelId, this.peer(consumerWorker).createOutput(spec.channelId, channelCredits));
      } else if (consumerWorker === workerIndex) {
        this.inputs.set(spec.channelId, this.peer(producerWorker).createInput(spec.channelId));
      }
    }
  }

  private peer(workerIndex: number): PeerLink {
    const link = this.options.peers.get(workerIndex);
    if (link === undefined) throw new EddyError(`no link to worker ${workerIndex}`);
    return link;
  }

  private buildTask(vertex: JobVertex, subtask: number): Task {
    const { plan, topology, control, clock } = this.options;
    const checkpointing = this.options.checkpointing;
    const taskCheckpointing: TaskCheckpointing | undefined =
      checkpointing === undefined
        ? undefined
        : {
            writeState: (...args) => checkpointing.writeState(...args),
            acknowledge: (t, checkpointId, states, isFinished) =>
              control.acknowledgeCheckpoint(t.vertexId, t.subtask, checkpointId, states, isFinished),
            decline: (t, checkpointId, reason) => control.declineCheckpoint(t.vertexId, t.subtask, checkpointId, reason),
            ended: (t) => control.taskEnded(t.vertexId, t.subtask),
          };
    const task = new Task(
      vertex.id,
      subtask,
      vertex.parallelism,
      vertex.name,
      clock,
      this.options.bufferTimeoutMs,
      {
        wake: (t) => this.scheduler.wake(t),
        onFinished: (t) => control.taskFinished(t.vertexId, t.subtask, t.metricsSnapshot().map(([id, m]) => [id, t.subtask, m])),
        onFailed: (_t, error) => control.taskFailed(error),
      },
      taskCheckpointing,
      this.options.restoredState,
    );

    const operators = new Map<number, StreamOperator<unknown>>();
    let source: SourceOperator | undefined;
    for (const nodeId of vertex.chain) {
      const node = plan.nodes.get(nodeId)!.node;
      if (node.source !== undefined) {
        source = new SourceOperator(
          node.source,
          {
            registerReader: () => control.registerReader(vertex.id, subtask),
            requestSplit: () => control.requestSplit(vertex.id, subtask),
          },
          this.options.badRecordPolicy,
        );
        operators.set(nodeId, source);
      } else if (node.createOperator !== undefined) {
        try {
          operators.set(nodeId, node.createOperator());
        } catch (error) {
          throw attributeError(error, node.uid, subtask);
        }
      } else {
        throw new ConfigurationError(`operator '${node.name}' (${node.kind} #${node.id}) has neither an operator nor a source`);
      }
    }

    const members: ChainMember[] = [];
    const writers: RecordWriter[] = [];
    const outputChannels = new Set<OutputChannel>();
    for (const nodeId of vertex.chain) {
      const planned = plan.nodes.get(nodeId)!;
      const node = planned.node;
      const operator = operators.get(nodeId)!;
      const successors: ChainedSuccessor[] = (this.chainedFrom.get(nodeId) ?? []).map((edge) => ({
        operator: operators.get(edge.targetId)!,
        input: edge.targetInput,
        uid: plan.nodes.get(edge.targetId)!.node.uid,
        subtask,
      }));
      const mainWriters: RecordWriter[] = [];
      const sideWriters = new Map<string, RecordWriter[]>();
      for (const edge of topology.edgesFromNode.get(nodeId) ?? []) {
        const channels = edge.byProducer[subtask]!.map((spec) => this.outputs.get(spec.channelId)!);
        const target = plan.nodes.get(edge.input.toNode)!;
        const partitioner = createPartitioner(edge.input.partitioning, {
          numChannels: channels.length,
          maxParallelism: target.maxParallelism,
          subtask,
          edgeDescription: `'${node.name}' ▶ '${target.node.name}'`,
        });
        const writer = new RecordWriter(partitioner, channels, this.options.batchLimits, target.node.uid, subtask);
        writers.push(writer);
        for (const channel of channels) outputChannels.add(channel);
        if (edge.input.sideOutputTagId === undefined) {
          mainWriters.push(writer);
        } else {
          let list = sideWriters.get(edge.input.sideOutputTagId);
          if (list === undefined) sideWriters.set(edge.input.sideOutputTagId, (list = []));
          list.push(writer);
        }
      }
      const metrics = new OperatorMetrics();
      const keyGroupRange = computeKeyGroupRangeForOperatorIndex(planned.maxParallelism, planned.parallelism, subtask);
      const uid = node.uid;
      const context: OperatorContext<unknown> = {
        uid,
        name: node.name,
        subtask,
        parallelism: planned.parallelism,
        maxParallelism: planned.maxParallelism,
        keyGroupRange,
        output: createChainOutput(successors, mainWriters, sideWriters, metrics),
        clock,
        metrics,
        checkpointing: { mode: checkpointing?.mode ?? 'off', attempt: this.options.attempt ?? 1 },
        scheduleProcessingTime: (timeMs, callback) => task.timers.schedule(timeMs, callback, uid),
        createKeyedStateBackend: () =>
          this.options.createKeyedStateBackend({
            operatorUid: uid,
            subtask,
            maxParallelism: planned.maxParallelism,
            keyGroupRange,
            clock,
            currentWatermark: () => metrics.currentWatermarkMs,
          }),
      };
      try {
        operator.setup(context);
      } catch (error) {
        throw attributeError(error, uid, subtask);
      }
      const chainedInput = plan.chainedEdges.find((edge) => edge.targetId === nodeId)?.targetInput ?? 0;
      members.push({ nodeId, uid, operator, metrics, input: chainedInput, keyGroupRange });
    }

    let gate: InputGate | undefined;
    if (source === undefined) {
      const inputSpecs = topology.inputsOf.get(vertex.id)![subtask]!;
      const channelsByInput = inputSpecs.map((specs) => specs.map((spec) => this.inputs.get(spec.channelId)!));
      gate = new InputGate(channelsByInput, members[0]!.operator, members[0]!.uid, subtask, {
        checkpointingMode: checkpointing?.mode ?? 'exactly-once',
      });
      const head = members[0]!.operator;
      if (head.prefetch !== undefined) gate.prepareBatch = (batch, input) => head.prefetch!(batch.values, batch.timestamps, batch.length, input);
    }
    task.wire({ chain: members, source, gate, writers, outputChannels: [...outputChannels] });
    return task;
  }
}
