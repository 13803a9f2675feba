/**
 * The local runtime: runs a planned job on this machine, in the calling thread or on worker threads.
 *
 * Shape (Flink's, DESIGN.md §3):
 * - {@link executeJob} (local-executor.ts) is the job manager: it plans the graph, runs the split
 *   enumerators ({@link SplitCoordinator}) in the main thread and deploys subtasks — all in this thread
 *   (`workers: 0`) or spread over worker threads, each of which imports the job module, rebuilds the
 *   graph and must produce the same fingerprint.
 * - A {@link TaskManager} holds the tasks of one thread and its ends of every channel. A {@link Task}
 *   runs one chain (operators joined by direct synchronous calls, operator-chain.ts) mailbox style:
 *   mail, due processing-time callbacks, then one unit of input — a source poll
 *   ({@link SourceOperator}) or one message of its {@link InputGate}. A {@link TaskScheduler} gives the
 *   thread's tasks turns and yields to the event loop between rounds.
 * - Channels carry {@link RecordBatch}es and in-band events (watermark, watermark status, barrier,
 *   end of input) in order. A {@link RecordWriter} partitions records ({@link createPartitioner}) into
 *   per-channel buffers, flushed when full, before every event and on the buffer timeout. Between
 *   threads a batch is one msgpack ArrayBuffer ({@link BatchSerializer}), transferred over the
 *   {@link PeerLink} of the two workers.
 *
 * Invariants:
 * - Backpressure is credit-based and bounded everywhere: a batch leaves only against a credit, the
 *   consumer returns it after processing the batch, and a task takes no input while any output channel
 *   lacks credit or an operator asks to wait. A slow sink stops its producers back to the sources,
 *   which stop polling. There is no per-record message between threads and no per-record await.
 * - Events never overtake records on a channel; each logical input's watermark is the valve's
 *   minimum over its active channels; end of input delivers MAX_WATERMARK before `endInput`.
 * - Every failure reaches the job attributed to an operator uid and subtask; the first one cancels the
 *   job (all tasks closed, workers terminated) and is what `executeJob` rejects with.
 */
export { executeJob, startInProcessJob } from './local-executor.ts';
export type { ExecutionOptions, InProcessJob } from './local-executor.ts';
export type { JobProgress, JobResult, OperatorResult } from './job-metrics.ts';
export { JobMetrics } from './job-metrics.ts';
export { BadRecordHandler, validateBadRecordPolicy } from './bad-record-handler.ts';
export type { BadRecordPolicy } from './bad-record-handler.ts';
export { BatchSerializer } from './batch-serializer.ts';
export { buildChannelTopology, deploySubtasks } from './channel-topology.ts';
export type { ChannelSpec, ChannelTopology, EdgeChannels } from './channel-topology.ts';
export { deserializeError, serializeError } from './error-codec.ts';
export type { SerializedError } from './error-codec.ts';
export { InputChannel } from './input-channel.ts';
export { InputGate } from './input-gate.ts';
export type { BarrierAlignment, GateStep } from './input-gate.ts';
export { buildJobGraph, loadJobDefinition } from './job-loader.ts';
export { createLocalChannel } from './local-channel.ts';
export { attributeError, createChainOutput } from './operator-chain.ts';
export { DEFAULT_CHANNEL_CREDITS, OutputChannel } from './output-channel.ts';
export type { ChannelSender } from './output-channel.ts';
export { createPartitioner } from './partitioner.ts';
export type { Partitioner } from './partitioner.ts';
export { PeerLink } from './peer-link.ts';
export type { PeerMessage } from './peer-link.ts';
export { ProcessingTimeService } from './processing-time-service.ts';
export { DEFAULT_BATCH_SIZE, DEFAULT_MAX_BATCH_BYTES, RecordWriter } from './record-writer.ts';
export type { BatchLimits } from './record-writer.ts';
export { PERIODIC_WATERMARK_INTERVAL_MS, SourceOperator } from './source-operator.ts';
export type { SplitEnumeratorConnection } from './source-operator.ts';
export { SplitCoordinator } from './split-coordinator.ts';
export { END_OF_INPUT, RecordBatch } from './stream-element.ts';
export type { ChannelEvent, ChannelMessage } from './stream-element.ts';
export { Task } from './task.ts';
export type { SplitMail, TaskState } from './task.ts';
export { TaskManager } from './task-manager.ts';
export type { SubtaskMetrics, TaskControl } from './task-manager.ts';
export { TaskScheduler } from './task-scheduler.ts';
