import { createHash } from 'node:crypto';
import type { StreamGraph } from './stream-graph.ts';

/**
 * A stable hash of a graph's structure: node ids, uids, kinds, names, parallelism, chaining and
 * inputs, edges with their partitioning kinds and side-output tags. Every worker builds the graph from
 * the job module itself; equal fingerprints are how the job manager knows they built the same one.
 * Functions (operators, key selectors) are not part of it: they cannot be compared across threads.
 */
export function fingerprintGraph(graph: StreamGraph): string {
  const structure = {
    jobName: graph.jobName,
    defaultParallelism: graph.defaultParallelism,
    maxParallelism: graph.maxParallelism,
    nodes: graph.nodes.map((node) => [
      node.id,
      node.uid,
      node.hasUserUid,
      node.kind,
      node.name,
      node.parallelism ?? null,
      node.maxParallelism ?? null,
      node.isStateful,
      node.numInputs,
      node.chainingStrategy,
      node.isSink,
      node.source === undefined ? null : node.source.source.describe(),
    ]),
    edges: graph.edges.map((edge) => [
      edge.sourceId,
      edge.targetId,
      edge.targetInput,
      edge.partitioning.kind,
      edge.sideOutputTagId ?? null,
    ]),
  };
  return createHash('sha256').update(JSON.stringify(structure)).digest('hex');
}
