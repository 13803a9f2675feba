import { ConfigurationError } from '../core/errors.ts';
import { checkParallelism, DEFAULT_MAX_PARALLELISM } from '../core/key-group.ts';
import type { Source, SourceSplit } from '../connector/source.ts';
import type { ChainingStrategy, JobStateBackend, Partitioning, StreamEdge, StreamGraph, StreamNode } from '../graph/stream-graph.ts';
import type { StreamOperator } from '../operators/operator.ts';
import type { WatermarkStrategy } from '../time/watermark-strategy.ts';
import { DataStream } from './data-stream.ts';

/** Options of a {@link StreamEnvironment}. */
export interface EnvironmentOptions {
  /** Shown in plans, logs and reports. Default `eddy-job`. */
  readonly jobName?: string;
  /** Default parallelism of every operator that does not set its own. Default 1. */
  readonly parallelism?: number;
  /** Number of key groups; the upper bound for rescaling. Default 128. */
  readonly maxParallelism?: number;
}

/** Options of `fromSource`. */
export interface SourceOptions {
  /** Stable id that checkpoints and savepoints map the source's state (its positions) by. Required. */
  readonly uid: string;
  /** Shown in plans and reports. Default `Source: <source description>`. */
  readonly name?: string;
  /** Default: the environment's parallelism. */
  readonly parallelism?: number;
}

/** An edge as recorded while building: `undefined` partitioning means "forward if possible, else rebalance". */
export interface PendingEdge {
  readonly sourceId: number;
  readonly targetId: number;
  readonly targetInput: number;
  readonly partitioning: Partitioning | undefined;
  readonly sideOutputTagId: string | undefined;
}

/**
 * What an API operation adds to the graph; `addNode` turns it into a {@link StreamNode}. Internal to the API
 * layer.
 */
export interface NodeSpec {
  readonly kind: string;
  readonly name: string;
  readonly isStateful: boolean;
  readonly numInputs: number;
  readonly createOperator: (() => StreamOperator<unknown>) | undefined;
  readonly source?: StreamNode['source'];
  readonly isSink?: boolean;
  readonly uid?: string;
  readonly parallelism?: number;
  readonly chainingStrategy?: ChainingStrategy;
}

/**
 * The entry point of the DataStream API: creates sources and collects the graph the job describes.
 * Building is pure: nothing runs until the runtime executes `getStreamGraph()`.
 */
export class StreamEnvironment {
  /** Default `eddy-job`. */
  readonly jobName: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  private readonly nodes: StreamNode[] = [];
  private readonly edges: PendingEdge[] = [];
  private stateBackend: JobStateBackend | undefined = undefined;

  constructor(options: EnvironmentOptions = {}) {
    this.jobName = options.jobName ?? 'eddy-job';
    this.maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    this.parallelism = options.parallelism ?? 1;
    checkParallelism(this.maxParallelism, this.parallelism);
  }

  /**
   * The job's default keyed state backend: `'memory'` (the heap; the default) or `'rocksdb'` (on disk,
   * state larger than memory), optionally with its folder and cache budget:
   * `env.setStateBackend({ kind: 'rocksdb', memory: '512mb' })`. `eddy run --state-backend` overrides it.
   */
  setStateBackend(backend: 'memory' | 'rocksdb' | JobStateBackend): void {
    const config: JobStateBackend = typeof backend === 'string' ? { kind: backend } : backend;
    if (config === null || typeof config !== 'object' || (config.kind !== 'memory' && config.kind !== 'rocksdb')) {
      throw new ConfigurationError(`setStateBackend takes 'memory' or 'rocksdb' (or { kind, dir, memory }), got ${JSON.stringify(backend)}`);
    }
    this.stateBackend = config;
  }

  /** Reads a source. Every record gets its event time and watermarks from `watermarkStrategy`. */
  fromSource<T, Split extends SourceSplit>(
    source: Source<T, Split>,
    watermarkStrategy: WatermarkStrategy<T>,
    options: SourceOptions,
  ): DataStream<T> {
    if (source === null || typeof source !== 'object' || typeof source.createReader !== 'function') {
      throw new ConfigurationError('fromSource needs a Source (e.g. fileSource(...) or generatorSource(...))');
    }
    if (options === undefined || typeof options.uid !== 'string' || options.uid.trim() === '') {
      throw new ConfigurationError(
        `source ${source.describe()} needs a uid: env.fromSource(source, strategy, { uid: 'orders-source' })`,
      );
    }
    const node = this.addNode({
      kind: 'source',
      name: options.name ?? `Source: ${source.describe()}`,
      isStateful: true,
      numInputs: 0,
      createOperator: undefined,
      source: {
        source: source as unknown as Source<unknown, SourceSplit>,
        watermarkStrategy: watermarkStrategy as WatermarkStrategy<unknown>,
      },
      uid: options.uid,
      ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }),
    });
    return new DataStream<T>(this, [{ nodeId: node.id, sideOutputTagId: undefined }]);
  }

  /** @internal Adds a node; used by the stream classes. */
  addNode(spec: NodeSpec): StreamNode {
    const id = this.nodes.length + 1;
    if (spec.parallelism !== undefined) checkParallelism(this.maxParallelism, spec.parallelism);
    const node: StreamNode = {
      id,
      uid: spec.uid ?? `auto-${spec.kind}-${id}`,
      hasUserUid: spec.uid !== undefined,
      name: spec.name,
      kind: spec.kind,
      parallelism: spec.parallelism,
      maxParallelism: undefined,
      isStateful: spec.isStateful,
      numInputs: spec.numInputs,
      chainingStrategy: spec.chainingStrategy ?? 'always',
      createOperator: spec.createOperator,
      source: spec.source,
      isSink: spec.isSink ?? false,
    };
    this.nodes.push(node);
    return node;
  }

  /** @internal */
  addEdge(edge: PendingEdge): void {
    this.edges.push(edge);
  }

  /** @internal */
  getNode(id: number): StreamNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new ConfigurationError(`no operator with id ${id} in this environment`);
    return node;
  }

  /**
   * The graph as plain data. Edges without an explicit partitioning become `forward` when both ends
   * have the same parallelism, else `rebalance` (Flink's default).
   */
  getStreamGraph(): StreamGraph {
    if (this.nodes.length === 0) {
      throw new ConfigurationError(`job '${this.jobName}' defines no operators: add a source with env.fromSource(...)`);
    }
    const parallelismOf = (node: StreamNode): number => node.parallelism ?? this.parallelism;
    const edges: StreamEdge[] = this.edges.map((edge) => {
      let partitioning = edge.partitioning;
      if (partitioning === undefined) {
        const isSameParallelism = parallelismOf(this.getNode(edge.sourceId)) === parallelismOf(this.getNode(edge.targetId));
        partitioning = isSameParallelism ? { kind: 'forward' } : { kind: 'rebalance' };
      }
      return {
        sourceId: edge.sourceId,
        targetId: edge.targetId,
        targetInput: edge.targetInput,
        partitioning,
        sideOutputTagId: edge.sideOutputTagId,
      };
    });
    return {
      jobName: this.jobName,
      defaultParallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      nodes: this.nodes.map((node) => ({ ...node })),
      edges,
      ...(this.stateBackend === undefined ? {} : { stateBackend: this.stateBackend }),
    };
  }
}
