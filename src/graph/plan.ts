import { ConfigurationError } from '../core/errors.ts';
import { checkParallelism, UPPER_BOUND_MAX_PARALLELISM } from '../core/key-group.ts';
import type { Partitioning, StreamEdge, StreamGraph, StreamNode } from './stream-graph.ts';

/**
 * Planning: a pure pass over the StreamGraph that validates it, resolves every node's parallelism and
 * maxParallelism, and chains nodes into vertices (Flink's JobGraph). A vertex runs as `parallelism`
 * subtasks; inside a vertex, records move by direct synchronous calls.
 *
 * Chaining rule (Flink's): edge A ▶ B is chained iff B has exactly one incoming edge, the edge carries
 * A's main output (not a side output), both have the same parallelism, B's chaining strategy is
 * `always`, A's is not `never`, and the edge is `forward` — or, between two parallelism-1 nodes, any
 * partitioning but `custom` (with one subtask on each side every record goes to subtask 0 anyway;
 * a keyed operator still computes its key group itself).
 *
 * A chain is a tree rooted at its head (one node may feed several chained nodes); `chain` lists its
 * node ids head first, in topological order, so every node comes after the node feeding it.
 */

/** A non-chained edge into a vertex's head node. */
export interface VertexInput {
  readonly fromVertex: number;
  readonly fromNode: number;
  readonly toNode: number;
  readonly partitioning: Partitioning;
  readonly targetInput: number;
  readonly sideOutputTagId: string | undefined;
}

/**
 * A chain of nodes that runs as `parallelism` subtasks (Flink's JobVertex); records inside it move by direct
 * calls.
 */
export interface JobVertex {
  /** The id of the head node. */
  readonly id: number;
  /** Node ids, head first, in topological order. */
  readonly chain: readonly number[];
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Every non-chained edge into the head, in graph edge order. */
  readonly inputs: readonly VertexInput[];
  /** `map ▶ filter ▶ sink`: the chain's node names, for plans and logs. */
  readonly name: string;
}

/** A node with its parallelism resolved. */
export interface PlannedNode {
  readonly node: StreamNode;
  readonly vertexId: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** The result of {@link planJob}: the graph with resolved parallelism, chained into vertices. Plain data. */
export interface ExecutionPlan {
  readonly graph: StreamGraph;
  /** Vertices in topological order (every input's vertex comes first). */
  readonly vertices: readonly JobVertex[];
  /** By node id. */
  readonly nodes: ReadonlyMap<number, PlannedNode>;
  /** Edges chained inside vertices (source and target in the same vertex). */
  readonly chainedEdges: readonly StreamEdge[];
  /** Non-chained edges, by source node id (what each node writes to the network). */
  readonly networkEdgesBySource: ReadonlyMap<number, readonly StreamEdge[]>;
}

/** `'name' (kind #id)`: how errors and plans name a node. */
export function describeNode(node: StreamNode): string {
  return `'${node.name}' (${node.kind} #${node.id})`;
}

/** How to chain. */
export interface PlanOptions {
  /**
   * Chain hash (keyBy) edges between two parallelism-1 nodes (default true). False when keyed state is
   * in RocksDB: a keyed operator must head its task, where the input gate lets it prefetch each batch's
   * state before processing it; inside a chain every state access would be a blocking read.
   */
  readonly chainKeyedEdges?: boolean;
}

/**
 * Validates the graph and chains it into vertices; pure, O(nodes + edges). Throws ConfigurationError naming
 * the node and the fix for missing or duplicate uids, bad parallelism, invalid edges or a cycle.
 */
export function planJob(graph: StreamGraph, options: PlanOptions = {}): ExecutionPlan {
  const chainKeyedEdges = options.chainKeyedEdges ?? true;
  checkParallelism(graph.maxParallelism, graph.defaultParallelism);
  const nodeById = new Map<number, StreamNode>();
  for (const node of graph.nodes) {
    if (nodeById.has(node.id)) throw new ConfigurationError(`graph has two nodes with id ${node.id}`);
    nodeById.set(node.id, node);
  }
  validateUids(graph.nodes);
  const parallelismOf = new Map<number, { parallelism: number; maxParallelism: number }>();
  for (const node of graph.nodes) parallelismOf.set(node.id, resolveParallelism(graph, node));

  const incoming = new Map<number, StreamEdge[]>();
  const outgoing = new Map<number, StreamEdge[]>();
  for (const node of graph.nodes) {
    incoming.set(node.id, []);
    outgoing.set(node.id, []);
  }
  for (const edge of graph.edges) {
    const source = nodeById.get(edge.sourceId);
    const target = nodeById.get(edge.targetId);
    if (source === undefined || target === undefined) {
      throw new ConfigurationError(`edge ${edge.sourceId} ▶ ${edge.targetId} references a node that is not in the graph`);
    }
    validateEdge(edge, source, target, parallelismOf);
    incoming.get(target.id)!.push(edge);
    outgoing.get(source.id)!.push(edge);
  }
  for (const node of graph.nodes) validateInputs(node, incoming.get(node.id)!);

  const order = topologicalOrder(graph, incoming, outgoing);
  const isChained = (edge: StreamEdge): boolean => {
    const source = nodeById.get(edge.sourceId)!;
    const target = nodeById.get(edge.targetId)!;
    const sourceParallelism = parallelismOf.get(source.id)!.parallelism;
    const targetParallelism = parallelismOf.get(target.id)!.parallelism;
    if (incoming.get(target.id)!.length !== 1) return false;
    if (edge.sideOutputTagId !== undefined) return false;
    if (target.chainingStrategy !== 'always' || source.chainingStrategy === 'never') return false;
    if (sourceParallelism !== targetParallelism) return false;
    if (edge.partitioning.kind === 'forward') return true;
    if (edge.partitioning.kind === 'hash' && !chainKeyedEdges) return false;
    return sourceParallelism === 1 && edge.partitioning.kind !== 'custom';
  };

  const vertexOf = new Map<number, number>();
  const chains = new Map<number, number[]>();
  const chainedEdges: StreamEdge[] = [];
  for (const nodeId of order) {
    const inEdges = incoming.get(nodeId)!;
    const chainedEdge = inEdges.length === 1 && isChained(inEdges[0]!) ? inEdges[0]! : undefined;
    if (chainedEdge === undefined) {
      vertexOf.set(nodeId, nodeId);
      chains.set(nodeId, [nodeId]);
    } else {
      const headId = vertexOf.get(chainedEdge.sourceId)!;
      vertexOf.set(nodeId, headId);
      chains.get(headId)!.push(nodeId);
      chainedEdges.push(chainedEdge);
    }
  }

  const vertices: JobVertex[] = [];
  const networkEdgesBySource = new Map<number, StreamEdge[]>();
  for (const [headId, chain] of chains) {
    const resolved = parallelismOf.get(headId)!;
    const inputs: VertexInput[] = [];
    for (const edge of incoming.get(headId)!) {
      inputs.push({
        fromVertex: vertexOf.get(edge.sourceId)!,
        fromNode: edge.sourceId,
        toNode: edge.targetId,
        partitioning: edge.partitioning,
        targetInput: edge.targetInput,
        sideOutputTagId: edge.sideOutputTagId,
      });
    }
    vertices.push({
      id: headId,
      chain,
      parallelism: resolved.parallelism,
      maxParallelism: resolved.maxParallelism,
      inputs,
      name: chain.map((id) => nodeById.get(id)!.name).join(' ▶ '),
    });
  }
  const chainedSet = new Set(chainedEdges);
  for (const edge of graph.edges) {
    if (chainedSet.has(edge)) continue;
    let list = networkEdgesBySource.get(edge.sourceId);
    if (list === undefined) networkEdgesBySource.set(edge.sourceId, (list = []));
    list.push(edge);
  }
  const nodes = new Map<number, PlannedNode>();
  for (const node of graph.nodes) {
    const resolved = parallelismOf.get(node.id)!;
    nodes.set(node.id, { node, vertexId: vertexOf.get(node.id)!, ...resolved });
  }
  return { graph, vertices, nodes, chainedEdges, networkEdgesBySource };
}

function validateUids(nodes: readonly StreamNode[]): void {
  const byUid = new Map<string, StreamNode>();
  for (const node of nodes) {
    const needsUid = node.isStateful || node.isSink || node.numInputs === 0 || node.source !== undefined;
    if (needsUid && !node.hasUserUid) {
      const what = node.source !== undefined || node.numInputs === 0 ? 'a source' : node.isSink ? 'a sink' : 'stateful';
      throw new ConfigurationError(
        `operator '${node.name}' (${node.kind} #${node.id}) is ${what} and needs a uid: call .uid('...')`,
      );
    }
    const other = byUid.get(node.uid);
    if (other !== undefined) {
      throw new ConfigurationError(
        `uid '${node.uid}' is used by both ${describeNode(other)} and ${describeNode(node)}: uids must be unique`,
      );
    }
    byUid.set(node.uid, node);
  }
}

function resolveParallelism(graph: StreamGraph, node: StreamNode): { parallelism: number; maxParallelism: number } {
  const parallelism = node.parallelism ?? graph.defaultParallelism;
  const maxParallelism = node.maxParallelism ?? graph.maxParallelism;
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > UPPER_BOUND_MAX_PARALLELISM) {
    throw new ConfigurationError(
      `operator ${describeNode(node)}: maxParallelism must be a whole number in [1, ${UPPER_BOUND_MAX_PARALLELISM}], got ${maxParallelism}`,
    );
  }
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new ConfigurationError(`operator ${describeNode(node)}: parallelism must be a whole number ≥ 1, got ${parallelism}`);
  }
  if (parallelism > maxParallelism) {
    throw new ConfigurationError(
      `operator ${describeNode(node)}: parallelism ${parallelism} exceeds maxParallelism ${maxParallelism}; lower the parallelism or raise maxParallelism`,
    );
  }
  return { parallelism, maxParallelism };
}

function validateEdge(
  edge: StreamEdge,
  source: StreamNode,
  target: StreamNode,
  parallelismOf: ReadonlyMap<number, { parallelism: number }>,
): void {
  const where = `edge ${describeNode(source)} ▶ ${describeNode(target)}`;
  if (edge.sideOutputTagId !== undefined && (typeof edge.sideOutputTagId !== 'string' || edge.sideOutputTagId === '')) {
    throw new ConfigurationError(`${where} is a side-output edge but names no OutputTag id`);
  }
  if (!Number.isInteger(edge.targetInput) || edge.targetInput < 0 || edge.targetInput >= target.numInputs) {
    throw new ConfigurationError(
      `${where} targets input ${edge.targetInput}, but the target has ${target.numInputs} input(s)`,
    );
  }
  if (edge.partitioning.kind === 'forward') {
    const sourceParallelism = parallelismOf.get(source.id)!.parallelism;
    const targetParallelism = parallelismOf.get(target.id)!.parallelism;
    if (sourceParallelism !== targetParallelism) {
      throw new ConfigurationError(
        `${where} is forward but the parallelism differs (${sourceParallelism} vs ${targetParallelism}): ` +
          'forward needs equal parallelism; use rebalance() or set the same parallelism',
      );
    }
  }
}

function validateInputs(node: StreamNode, inEdges: readonly StreamEdge[]): void {
  if (node.numInputs === 0) {
    if (inEdges.length > 0) throw new ConfigurationError(`source ${describeNode(node)} cannot have inputs`);
    return;
  }
  for (let input = 0; input < node.numInputs; input++) {
    if (!inEdges.some((edge) => edge.targetInput === input)) {
      throw new ConfigurationError(
        `operator ${describeNode(node)} has ${node.numInputs} input(s) but nothing is connected to input ${input}`,
      );
    }
  }
}

function topologicalOrder(
  graph: StreamGraph,
  incoming: ReadonlyMap<number, readonly StreamEdge[]>,
  outgoing: ReadonlyMap<number, readonly StreamEdge[]>,
): number[] {
  const remaining = new Map<number, number>();
  const ready: number[] = [];
  for (const node of graph.nodes) {
    const count = incoming.get(node.id)!.length;
    remaining.set(node.id, count);
    if (count === 0) ready.push(node.id);
  }
  const order: number[] = [];
  // Stable: nodes in graph order whenever several are ready.
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const id = ready.shift()!;
    order.push(id);
    for (const edge of outgoing.get(id)!) {
      const left = remaining.get(edge.targetId)! - 1;
      remaining.set(edge.targetId, left);
      if (left === 0) ready.push(edge.targetId);
    }
  }
  if (order.length !== graph.nodes.length) {
    throw new ConfigurationError('the graph has a cycle; iterations are not supported');
  }
  return order;
}
