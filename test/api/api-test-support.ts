import { randomUUID } from 'node:crypto';
import { collectSink, type CollectSink } from '../../connectors/collect/index.ts';
import { generatorSource } from '../../connectors/generator/index.ts';
import type { StreamEnvironment } from '../../src/api/stream-environment.ts';
import type { DataStream } from '../../src/api/data-stream.ts';
import type { StreamEdge, StreamGraph, StreamNode } from '../../src/graph/stream-graph.ts';
import { WatermarkStrategy } from '../../src/time/watermark-strategy.ts';

/** A finite source of `values` (in order, one split) with event time `timestampOf(value)`. */
export function listStream<T>(
  env: StreamEnvironment,
  uid: string,
  values: readonly T[],
  timestampOf: (value: T) => number,
  options: { readonly outOfOrdernessMs?: number; readonly parallelism?: number } = {},
): DataStream<T> {
  const source = generatorSource<T>({ count: values.length, splits: 1, generate: (index) => values[index]! });
  return env.fromSource(
    source,
    WatermarkStrategy.forBoundedOutOfOrderness<T>(options.outOfOrdernessMs ?? 0).withTimestampAssigner((value) => timestampOf(value)),
    { uid, ...(options.parallelism === undefined ? {} : { parallelism: options.parallelism }) },
  );
}

/** A collect sink with a unique id (sinks with one id share results in a process). */
export function uniqueCollectSink<T>(prefix: string): CollectSink<T> {
  return collectSink<T>(`${prefix}-${randomUUID()}`);
}

export function nodeByName(graph: StreamGraph, name: string): StreamNode {
  const node = graph.nodes.find((n) => n.name === name);
  if (node === undefined) throw new Error(`no node named ${name}; have ${graph.nodes.map((n) => n.name).join(', ')}`);
  return node;
}

export function edgesInto(graph: StreamGraph, node: StreamNode): StreamEdge[] {
  return graph.edges.filter((e) => e.targetId === node.id);
}

/** Sorted JSON of each element: compares multisets. */
export function multiset(values: readonly unknown[]): string[] {
  return values.map((v) => JSON.stringify(v)).sort();
}
