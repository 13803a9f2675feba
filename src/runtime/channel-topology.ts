import type { ExecutionPlan, JobVertex, VertexInput } from '../graph/plan.ts';

/**
 * Every channel of a job, numbered deterministically from the plan, so that the job manager and each
 * worker (which plan the same graph independently) agree on channel ids without exchanging them.
 *
 * For each vertex input (a network edge into a vertex's head): a forward edge has one channel per
 * subtask pair (i ▶ i); every other partitioning connects every producer subtask to every consumer
 * subtask (a `global` edge sends records only to subtask 0, but events to all).
 */
export interface ChannelSpec {
  readonly channelId: number;
  readonly producerVertex: number;
  readonly producerSubtask: number;
  readonly consumerVertex: number;
  readonly consumerSubtask: number;
}

/** The channels of one network edge. */
export interface EdgeChannels {
  readonly input: VertexInput;
  readonly consumer: JobVertex;
  /** `byProducer[p]`: the channels of producer subtask p, indexed as the partitioner's channel numbers. */
  readonly byProducer: readonly (readonly ChannelSpec[])[];
}

/** All channels of a job, and how each edge and each consumer subtask's inputs map onto them. */
export interface ChannelTopology {
  readonly channels: readonly ChannelSpec[];
  /** Network edges by the node that writes them. */
  readonly edgesFromNode: ReadonlyMap<number, readonly EdgeChannels[]>;
  /** `inputsOf.get(vertexId)[consumerSubtask][logicalInput]`: that input's channels, in valve order. */
  readonly inputsOf: ReadonlyMap<number, readonly (readonly (readonly ChannelSpec[])[])[]>;
}

/** Numbers every channel of `plan`; deterministic, so every thread computes the same ids. O(channels). */
export function buildChannelTopology(plan: ExecutionPlan): ChannelTopology {
  const channels: ChannelSpec[] = [];
  const edgesFromNode = new Map<number, EdgeChannels[]>();
  const inputsOf = new Map<number, ChannelSpec[][][]>();
  const vertexById = new Map(plan.vertices.map((vertex) => [vertex.id, vertex]));
  for (const consumer of plan.vertices) {
    const headInputs = plan.nodes.get(consumer.id)!.node.numInputs;
    const perSubtask: ChannelSpec[][][] = [];
    for (let s = 0; s < consumer.parallelism; s++) {
      perSubtask.push(Array.from({ length: headInputs }, () => []));
    }
    inputsOf.set(consumer.id, perSubtask);
    for (const input of consumer.inputs) {
      const producer = vertexById.get(input.fromVertex)!;
      const byProducer: ChannelSpec[][] = [];
      for (let p = 0; p < producer.parallelism; p++) {
        const list: ChannelSpec[] = [];
        const targets = input.partitioning.kind === 'forward' ? [p] : range(consumer.parallelism);
        for (const c of targets) {
          const spec: ChannelSpec = {
            channelId: channels.length,
            producerVertex: producer.id,
            producerSubtask: p,
            consumerVertex: consumer.id,
            consumerSubtask: c,
          };
          channels.push(spec);
          list.push(spec);
          perSubtask[c]![input.targetInput]!.push(spec);
        }
        byProducer.push(list);
      }
      let edges = edgesFromNode.get(input.fromNode);
      if (edges === undefined) edgesFromNode.set(input.fromNode, (edges = []));
      edges.push({ input, consumer, byProducer });
    }
  }
  return { channels, edgesFromNode, inputsOf };
}

/** Which worker runs each subtask: spread round-robin over the workers, vertex by vertex. */
export function deploySubtasks(plan: ExecutionPlan, numWorkers: number): (vertexId: number, subtask: number) => number {
  const workerOf = new Map<string, number>();
  let next = 0;
  for (const vertex of plan.vertices) {
    for (let s = 0; s < vertex.parallelism; s++) {
      workerOf.set(`${vertex.id}/${s}`, next % Math.max(1, numWorkers));
      next++;
    }
  }
  return (vertexId, subtask) => workerOf.get(`${vertexId}/${subtask}`) ?? 0;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
