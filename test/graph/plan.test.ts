import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { fingerprintGraph } from '../../src/graph/fingerprint.ts';
import { planJob } from '../../src/graph/plan.ts';
import { GraphBuilder, MapTestOperator, hashBy, listSource } from '../runtime/test-graph.ts';

const map = (): MapTestOperator => new MapTestOperator((v) => v);
const source = listSource([[1, 2, 3]]);

describe('planJob chaining', () => {
  it('chains a forward pipeline of equal parallelism into one vertex', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const m = g.operator('m', 'map', map);
    const f = g.operator('f', 'filter', map);
    const k = g.sink('out');
    g.edge(s, m).edge(m, f).edge(f, k);
    const plan = planJob(g.build(2));
    expect(plan.vertices).toHaveLength(1);
    expect(plan.vertices[0]!.chain).toEqual([s, m, f, k]);
    expect(plan.vertices[0]!.parallelism).toBe(2);
  });

  it('breaks the chain at a hash edge, but chains hash and rebalance between parallelism-1 nodes', () => {
    const build = (parallelism: number, kind: 'hash' | 'rebalance') => {
      const g = new GraphBuilder();
      const s = g.source('src', source);
      const w = g.operator('window', 'window', map, { uid: 'w', isStateful: true });
      g.edge(s, w, kind === 'hash' ? hashBy((v) => v) : { kind: 'rebalance' });
      return planJob(g.build(parallelism)).vertices.map((v) => v.chain);
    };
    expect(build(2, 'hash')).toEqual([[1], [2]]);
    expect(build(2, 'rebalance')).toEqual([[1], [2]]);
    expect(build(1, 'hash')).toEqual([[1, 2]]);
    expect(build(1, 'rebalance')).toEqual([[1, 2]]);
  });

  it('keeps keyed operators at the head of their task when asked (RocksDB: they prefetch there)', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const w = g.operator('window', 'window', map, { uid: 'w', isStateful: true });
    const m = g.operator('m', 'map', map);
    g.edge(s, w, hashBy((v) => v));
    g.edge(w, m, { kind: 'forward' });
    expect(planJob(g.build(1), { chainKeyedEdges: false }).vertices.map((v) => v.chain)).toEqual([[1], [2, 3]]);
    expect(planJob(g.build(1)).vertices.map((v) => v.chain)).toEqual([[1, 2, 3]]);
  });

  it('does not chain across a parallelism change, a second input, a side output or a chaining strategy', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const a = g.operator('a', 'map', map, { parallelism: 2 });
    const b = g.operator('b', 'map', map, { parallelism: 2, chainingStrategy: 'head' });
    const c = g.operator('c', 'map', map, { parallelism: 2 });
    const u = g.operator('u', 'map', map, { parallelism: 2 });
    const d = g.operator('d', 'map', map, { parallelism: 2, chainingStrategy: 'never' });
    const e = g.operator('e', 'map', map, { parallelism: 2 });
    g.edge(s, a, { kind: 'rebalance' })
      .edge(a, b)
      .edge(b, c, { kind: 'forward' }, 0, 'late')
      .edge(a, u)
      .edge(b, u)
      .edge(c, d)
      .edge(d, e);
    const chains = planJob(g.build(1)).vertices.map((v) => v.chain);
    // a ▶ b: target 'head'; b ▶ c: side output; a,b ▶ u: two inputs; c ▶ d: target 'never'; d ▶ e: source 'never'
    expect(chains).toEqual([[s], [a], [b], [c], [u], [d], [e]]);
  });

  it('chains a fan-out into a tree, head first in topological order', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const a = g.operator('a', 'map', map);
    const b = g.operator('b', 'map', map);
    const k1 = g.sink('k1');
    const k2 = g.sink('k2');
    g.edge(s, a).edge(s, b).edge(a, k1).edge(b, k2);
    const plan = planJob(g.build());
    expect(plan.vertices.map((v) => v.chain)).toEqual([[s, a, b, k1, k2]]);
    expect(plan.chainedEdges).toHaveLength(4);
  });

  it('records the network inputs of each vertex head', () => {
    const g = new GraphBuilder();
    const s1 = g.source('s1', source);
    const s2 = g.source('s2', source);
    const j = g.operator('join', 'co-process', map, { uid: 'join', isStateful: true, numInputs: 2, parallelism: 2 });
    g.edge(s1, j, hashBy((v) => v), 0).edge(s2, j, hashBy((v) => v), 1);
    const plan = planJob(g.build(1));
    const join = plan.vertices.find((v) => v.id === j)!;
    expect(join.inputs.map((i) => [i.fromVertex, i.targetInput, i.partitioning.kind])).toEqual([
      [s1, 0, 'hash'],
      [s2, 1, 'hash'],
    ]);
  });
});

describe('planJob validation', () => {
  it('names a stateful operator without uid and tells how to fix it', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const w = g.operator('Window(TumblingEventTimeWindows(1m))', 'map', map, { isStateful: true });
    g.edge(s, w);
    expect(() => planJob(g.build())).toThrowError(
      new ConfigurationError(
        "operator 'Window(TumblingEventTimeWindows(1m))' (map #2) is stateful and needs a uid: call .uid('...')",
      ),
    );
  });

  it('requires uids on sources and sinks', () => {
    const g1 = new GraphBuilder();
    g1.source('src', source, { uid: undefined as unknown as string });
    g1.nodes[0]!.hasUserUid = false;
    expect(() => planJob(g1.build())).toThrow(/'src' \(source #1\) is a source and needs a uid/);
    const g2 = new GraphBuilder();
    const s = g2.source('src', source);
    const k = g2.sink('out');
    g2.nodes[1]!.hasUserUid = false;
    g2.edge(s, k);
    expect(() => planJob(g2.build())).toThrow(/is a sink and needs a uid/);
  });

  it('rejects duplicate uids', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const k = g.sink('out', { uid: 'src' });
    g.edge(s, k);
    expect(() => planJob(g.build())).toThrow("uid 'src' is used by both 'src' (source #1) and 'out' (sink #2): uids must be unique");
  });

  it('rejects forward edges between different parallelism', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source, { parallelism: 2 });
    const k = g.sink('out', { parallelism: 3 });
    g.edge(s, k, { kind: 'forward' });
    expect(() => planJob(g.build())).toThrow(/is forward but the parallelism differs \(2 vs 3\)/);
  });

  it('rejects parallelism above maxParallelism', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source, { parallelism: 8, maxParallelism: 4 });
    const k = g.sink('out', { parallelism: 8 });
    g.edge(s, k);
    expect(() => planJob(g.build())).toThrow(/parallelism 8 exceeds maxParallelism 4/);
  });

  it('requires both inputs of a two-input operator', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const j = g.operator('join', 'co-process', map, { uid: 'join', isStateful: true, numInputs: 2 });
    g.edge(s, j, { kind: 'forward' }, 0);
    expect(() => planJob(g.build())).toThrow(/has 2 input\(s\) but nothing is connected to input 1/);
    g.edges.push({ sourceId: s, targetId: j, targetInput: 2, partitioning: { kind: 'forward' }, sideOutputTagId: undefined });
    expect(() => planJob(g.build())).toThrow(/targets input 2, but the target has 2 input\(s\)/);
  });

  it('rejects a side-output edge without a tag id', () => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const k = g.sink('out');
    g.edge(s, k, { kind: 'forward' }, 0, '');
    expect(() => planJob(g.build())).toThrow(/side-output edge but names no OutputTag id/);
  });
});

describe('fingerprintGraph', () => {
  const build = (parallelism: number, partitioning: 'forward' | 'rebalance') => {
    const g = new GraphBuilder();
    const s = g.source('src', source);
    const k = g.sink('out', { parallelism });
    g.edge(s, k, { kind: partitioning });
    return g.build(1);
  };

  it('is stable for equal structure and changes with parallelism or partitioning', () => {
    expect(fingerprintGraph(build(1, 'forward'))).toBe(fingerprintGraph(build(1, 'forward')));
    expect(fingerprintGraph(build(2, 'rebalance'))).not.toBe(fingerprintGraph(build(1, 'rebalance')));
    expect(fingerprintGraph(build(1, 'rebalance'))).not.toBe(fingerprintGraph(build(1, 'forward')));
  });
});
