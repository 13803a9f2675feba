import { defineJob, listState, MAX_WATERMARK, pathArg, valueState, WatermarkStrategy, z } from 'eddy';
import type { Collector, KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, ListState, ValueState } from 'eddy';
import { fileSink, fileSource, textLines } from 'eddy/connectors/file';

/**
 * Word count: the words of a text file (matches of /[\p{L}\p{N}]+/gu after lower-casing) with their
 * final counts, one `word,count` line per word, sorted by word. Counting is keyed by word (parallel);
 * the final counts are emitted when the input ends (a timer at the end-of-input watermark) and sorted
 * by one subtask.
 */
export const job = defineJob({
  name: 'wordcount',
  description: 'Counts the words of a text file: one "word,count" line per word, sorted by word.',
  args: z.object({
    input: pathArg().describe('text file (or directory of text files) to count'),
    output: pathArg().describe('file to write the sorted "word,count" lines to'),
  }),
  build(env, args) {
    env
      .fromSource(fileSource({ path: args.input, format: textLines() }), WatermarkStrategy.noWatermarks<string>(), {
        uid: 'lines',
      })
      .flatMap<string>((line, out) => {
        for (const match of line.toLowerCase().matchAll(WORD)) out.collect(match[0]);
      })
      .name('split words')
      .keyBy((word) => word)
      .process(new FinalCount())
      .uid('count-words')
      .name('count words')
      .keyBy(() => 0)
      .process(new SortAtEnd())
      .uid('sort-words')
      .name('sort words')
      .setParallelism(1)
      .sinkTo(fileSink<WordCount>({ path: args.output, format: { encode: ([word, count]) => `${word},${count}` } }), {
        uid: 'word-counts',
        parallelism: 1,
      });
  },
});

const WORD = /[\p{L}\p{N}]+/gu;

type WordCount = readonly [word: string, count: number];

/** Counts a word's occurrences and emits the final count at the end of input. */
class FinalCount implements KeyedProcessFunction<string, string, WordCount> {
  private count!: ValueState<number>;

  open(context: KeyedRuntimeContext): void {
    this.count = context.getValueState(valueState<number>('count'));
  }

  processElement(_word: string, context: KeyedProcessContext<string>): void {
    const previous = this.count.value();
    if (previous === undefined) context.timerService.registerEventTimeTimer(MAX_WATERMARK);
    this.count.update((previous ?? 0) + 1);
  }

  onTimer(_timestampMs: number, context: KeyedProcessContext<string>, out: Collector<WordCount>): void {
    out.collect([context.currentKey, this.count.value() ?? 0]);
  }
}

/** Collects every word's count and emits them sorted by word when the input ends. */
class SortAtEnd implements KeyedProcessFunction<number, WordCount, WordCount> {
  private counts!: ListState<WordCount>;

  open(context: KeyedRuntimeContext): void {
    this.counts = context.getListState(listState<WordCount>('counts'));
  }

  processElement(value: WordCount, context: KeyedProcessContext<number>): void {
    this.counts.add(value);
    context.timerService.registerEventTimeTimer(MAX_WATERMARK);
  }

  onTimer(_timestampMs: number, _context: KeyedProcessContext<number>, out: Collector<WordCount>): void {
    const counts = this.counts.get();
    counts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const count of counts) out.collect(count);
    this.counts.clear();
  }
}
