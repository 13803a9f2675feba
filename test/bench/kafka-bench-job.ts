import { json, kafkaSink, kafkaSource } from '../../connectors/kafka/index.ts';
import { defineJob, valueState, WatermarkStrategy, z } from '../../src/index.ts';
import type { Collector, KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, ValueState } from '../../src/index.ts';

/**
 * The job of the Kafka benchmark (kafka-bench.ts), in a module of its own so that worker threads can
 * build it: Kafka (bounded at the end offsets seen at start) ▶ keyBy(key) ▶ a running count per key
 * in value state, one `{ key, count }` per input record ▶ Kafka, keyed by `key`. The input is JSON
 * `{ key, ts, n }`, parsed without a schema (as the raw kafkajs ceiling parses it). The sink's delivery
 * guarantee follows the run's checkpointing mode: exactly-once (transactions, one per checkpoint) or
 * at-least-once (an idempotent producer).
 */

/** One input event. */
export interface BenchEvent {
  readonly key: string;
  readonly ts: number;
  readonly n: number;
}

/** One output record: the key's count after this event. */
export interface KeyCount {
  readonly key: string;
  readonly count: number;
}

/** Reads, increments and writes the key's counter; emits the new count. */
class RunningCount implements KeyedProcessFunction<string, BenchEvent, KeyCount> {
  private count!: ValueState<number>;

  open(context: KeyedRuntimeContext): void {
    this.count = context.getValueState(valueState<number>('count'));
  }

  processElement(event: BenchEvent, _context: KeyedProcessContext<string>, out: Collector<KeyCount>): void {
    const count = (this.count.value() ?? 0) + 1;
    this.count.update(count);
    out.collect({ key: event.key, count });
  }
}

export const job = defineJob({
  name: 'bench-kafka-count',
  args: z.object({
    brokers: z.string(),
    input: z.string(),
    output: z.string(),
    /** Needed when the run checkpoints exactly-once; unique per run (a producer with the same id fences another). */
    transactionalIdPrefix: z.string().optional(),
  }),
  build(env, { brokers, input, output, transactionalIdPrefix }) {
    env
      .fromSource(
        kafkaSource({ brokers, topics: input, value: json<BenchEvent>(), stoppingOffsets: 'latest', logLevel: 'error' }),
        WatermarkStrategy.noWatermarks<BenchEvent>(),
        { uid: 'events' },
      )
      .keyBy((event) => event.key)
      .process(new RunningCount())
      .uid('running-count')
      .sinkTo(
        kafkaSink<KeyCount>({
          brokers,
          topic: output,
          key: (result) => result.key,
          logLevel: 'error',
          ...(transactionalIdPrefix === undefined ? {} : { transactionalIdPrefix }),
        }),
        { uid: 'counts' },
      );
  },
});
