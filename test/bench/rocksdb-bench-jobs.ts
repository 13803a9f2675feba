import { generatorSource } from '../../connectors/generator/index.ts';
import { defineJob, valueState, WatermarkStrategy, z } from '../../src/index.ts';
import type { Collector, KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, ValueState } from '../../src/index.ts';
import { DiscardingSink } from './bench-jobs.ts';

/**
 * The RocksDB bench's own job (rocksdb-bench.ts; the keyed tumbling count comes from bench-jobs.ts):
 * value-state updates on keys drawn at random from a large key space, so that the working set is far
 * larger than the state cache and most updates read their row from RocksDB (through the operator's
 * batch prefetch).
 */

/** Default key space of {@link valueUpdates}. */
export const VALUE_UPDATE_KEYS = 1_000_000;

/** Each record is a key drawn uniformly from `keys`; a keyed counter in value state emits each new count. */
export const valueUpdates = defineJob({
  name: 'bench-value-updates',
  args: z.object({
    count: z.number().int().nonnegative(),
    keys: z.number().int().positive().default(VALUE_UPDATE_KEYS),
    /** One split: the records' order does not depend on the parallelism. */
    splits: z.number().int().positive().default(1),
  }),
  build(env, { count, keys, splits }) {
    env
      .fromSource(
        generatorSource({ count, splits, generate: (_index, random) => `k${random.nextInt(keys)}` }),
        WatermarkStrategy.noWatermarks<string>(),
        { uid: 'updates' },
      )
      .keyBy((key) => key)
      .process(new CountUpdates())
      .uid('count-updates')
      .sinkTo(new DiscardingSink(), { uid: 'discard' });
  },
});

/** Reads, increments and writes a key's counter; emits the new count. */
class CountUpdates implements KeyedProcessFunction<string, string, number> {
  private count!: ValueState<number>;

  open(context: KeyedRuntimeContext): void {
    this.count = context.getValueState(valueState<number>('count'));
  }

  processElement(_key: string, _context: KeyedProcessContext<string>, out: Collector<number>): void {
    const count = (this.count.value() ?? 0) + 1;
    this.count.update(count);
    out.collect(count);
  }
}
