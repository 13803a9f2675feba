import type { Source, SourceSplit } from '../connector/source.ts';
import type { StreamOperator } from '../operators/operator.ts';
import type { WatermarkStrategy } from '../time/watermark-strategy.ts';

/**
 * The StreamGraph: what a job builds, as plain data. Nodes are operators (with a uid that savepoints
 * map state by); edges say how records move between them. The graph holds operator *factories*
 * (functions can't cross threads: every worker builds the same graph and instantiates the subtasks it
 * runs), but nothing that runs. Planning (chaining, parallelism) is a separate pass over this data.
 */

/** How records of an edge are distributed over the target's subtasks. */
export type Partitioning =
  /** Subtask i ▶ subtask i; requires equal parallelism. Chainable. */
  | { readonly kind: 'forward' }
  /** Round-robin over all target subtasks (Storm's shuffle grouping). */
  | { readonly kind: 'rebalance' }
  /** Every record to every target subtask (Storm's all grouping). */
  | { readonly kind: 'broadcast' }
  /** Every record to target subtask 0 (Storm's global grouping). */
  | { readonly kind: 'global' }
  /** By key group of `keySelector(record)` (Storm's fields grouping; Flink's keyBy). */
  | { readonly kind: 'hash'; readonly keySelector: (value: unknown) => unknown }
  /** `partitioner(key, numPartitions)` chooses the subtask (Storm's direct/custom grouping). */
  | {
      readonly kind: 'custom';
      readonly keySelector: (value: unknown) => unknown;
      readonly partitioner: (key: unknown, numPartitions: number) => number;
    };

/** The `kind` of a {@link Partitioning}. */
export type PartitioningKind = Partitioning['kind'];

/**
 * Whether a node may be chained: `always` to its input and its output, `head` only to its output (it starts a
 * chain), `never` to neither.
 */
export type ChainingStrategy = 'always' | 'head' | 'never';

/** A source node's source and the strategy that assigns its timestamps and watermarks. */
export interface SourceSpec {
  readonly source: Source<unknown, SourceSplit>;
  readonly watermarkStrategy: WatermarkStrategy<unknown>;
}

/**
 * One operator of the graph. Mutable only while the API builds it: the fluent calls set `uid`, `name`
 * and `parallelism`.
 */
export interface StreamNode {
  readonly id: number;
  /** Stable identity across code changes; what state is mapped by. */
  uid: string;
  /** True when the user set the uid (required for stateful operators, sources and sinks). */
  hasUserUid: boolean;
  name: string;
  /** Operator kind for display and the fingerprint: `source`, `map`, `window`, `sink`… */
  readonly kind: string;
  /** Explicit parallelism, or undefined for the environment's default. */
  parallelism: number | undefined;
  maxParallelism: number | undefined;
  readonly isStateful: boolean;
  /** Number of logical inputs: 0 for sources, 1, or 2 for connected streams and joins. */
  readonly numInputs: number;
  chainingStrategy: ChainingStrategy;
  /** Creates a fresh operator for one subtask. Unset for source nodes (the runtime builds those). */
  readonly createOperator: (() => StreamOperator<unknown>) | undefined;
  readonly source: SourceSpec | undefined;
  /** True for sink nodes (no outgoing edges; reported as the job's results). */
  readonly isSink: boolean;
}

/** How records flow from one node to one input of another. */
export interface StreamEdge {
  readonly sourceId: number;
  readonly targetId: number;
  /** Which input of the target (0, or 1 for the second input of a two-input operator). */
  readonly targetInput: number;
  readonly partitioning: Partitioning;
  /** Set when the edge carries a side output of the source node rather than its main output. */
  readonly sideOutputTagId: string | undefined;
}

/**
 * The whole job as plain data: nodes and edges, plus the defaults that nodes without their own parallelism
 * take.
 */
export interface StreamGraph {
  readonly jobName: string;
  readonly defaultParallelism: number;
  readonly maxParallelism: number;
  readonly nodes: readonly StreamNode[];
  readonly edges: readonly StreamEdge[];
  /** The job's own choice of state backend (`env.setStateBackend`); a run's `--state-backend` overrides it. */
  readonly stateBackend?: JobStateBackend;
}

/**
 * A job's default state backend. For rocksdb, `dir` and `memory` (a size such as `256mb`) fall back to the
 * run's defaults when unset.
 */
export type JobStateBackend =
  | { readonly kind: 'memory' }
  | { readonly kind: 'rocksdb'; readonly dir?: string; readonly memory?: string };
