/**
 * The graph layer: plain data describing a job, and passes over it.
 *
 * - {@link StreamGraph} (stream-graph.ts): what a job builds — nodes (operator factories with uids)
 *   and edges (partitioning). Holds nothing that runs.
 * - {@link planJob} (plan.ts): validates the graph (uids on sources, sinks and stateful operators,
 *   unique uids, forward edges between equal parallelism, inputs connected, parallelism ≤
 *   maxParallelism), resolves parallelism and chains forward edges into vertices. Pure and
 *   deterministic: the same graph always gives the same plan, in every worker.
 * - {@link fingerprintGraph} (fingerprint.ts): a stable hash of the structure, compared between the job
 *   manager and every worker, which build the graph independently from the job module.
 */
export type {
  ChainingStrategy,
  Partitioning,
  PartitioningKind,
  SourceSpec,
  StreamEdge,
  StreamGraph,
  StreamNode,
} from './stream-graph.ts';
export { planJob, describeNode, type PlanOptions } from './plan.ts';
export type { ExecutionPlan, JobVertex, PlannedNode, VertexInput } from './plan.ts';
export { fingerprintGraph } from './fingerprint.ts';
