import { describe, expect, it } from 'vitest';
import { TimeWindow } from '../../src/windows/time-window.ts';
import { EventTimeTrigger } from '../../src/windows/event-time-trigger.ts';
import { ProcessingTimeTrigger } from '../../src/windows/processing-time-trigger.ts';
import { CountTrigger } from '../../src/windows/count-trigger.ts';
import { ContinuousEventTimeTrigger } from '../../src/windows/continuous-event-time-trigger.ts';
import { ContinuousProcessingTimeTrigger } from '../../src/windows/continuous-processing-time-trigger.ts';
import { PurgingTrigger } from '../../src/windows/purging-trigger.ts';
import { NeverTrigger } from '../../src/windows/never-trigger.ts';
import { isFire, isPurge, type Trigger } from '../../src/windows/trigger.ts';
import { valueState } from '../../src/state/descriptors.ts';
import { createTriggerContext } from './trigger-test-context.ts';

const w = new TimeWindow(0, 10);

describe('TriggerResult helpers', () => {
  it('fire and purge flags', () => {
    expect([isFire('continue'), isFire('fire'), isFire('purge'), isFire('fire-and-purge')]).toEqual([false, true, false, true]);
    expect([isPurge('continue'), isPurge('fire'), isPurge('purge'), isPurge('fire-and-purge')]).toEqual([false, false, true, true]);
  });
});

describe('EventTimeTrigger', () => {
  it('registers a timer at maxTimestamp and fires only for it', () => {
    const { ctx, timers } = createTriggerContext(w);
    const trigger: Trigger<unknown, TimeWindow> = EventTimeTrigger.create();
    expect(trigger.onElement('x', 3, w, ctx)).toBe('continue');
    expect([...timers.timers]).toEqual(['e@9TimeWindow[0, 10)']);
    expect(trigger.onEventTime(8, w, ctx)).toBe('continue');
    expect(trigger.onEventTime(9, w, ctx)).toBe('fire');
    expect(trigger.onProcessingTime(9, w, ctx)).toBe('continue');
    trigger.clear(w, ctx);
    expect(timers.timers.size).toBe(0);
  });

  it('fires immediately for an element when the watermark already passed the window (late firing)', () => {
    const { ctx, timers } = createTriggerContext(w);
    timers.watermarkMs = 9;
    expect(EventTimeTrigger.create().onElement('x', 3, w, ctx)).toBe('fire');
    expect(timers.timers.size).toBe(0);
  });

  it('onMerge registers only while the watermark is before the merged window end', () => {
    const { ctx, timers } = createTriggerContext(w);
    EventTimeTrigger.create().onMerge(w, ctx);
    expect(timers.timers.has('e@9TimeWindow[0, 10)')).toBe(true);
    timers.timers.clear();
    timers.watermarkMs = 9;
    EventTimeTrigger.create().onMerge(w, ctx);
    expect(timers.timers.size).toBe(0);
  });
});

describe('ProcessingTimeTrigger', () => {
  it('registers a processing-time timer at maxTimestamp and fires on it', () => {
    const { ctx, timers } = createTriggerContext(w);
    const trigger: Trigger<unknown, TimeWindow> = ProcessingTimeTrigger.create();
    expect(trigger.onElement('x', Number.NaN, w, ctx)).toBe('continue');
    expect([...timers.timers]).toEqual(['p@9TimeWindow[0, 10)']);
    expect(trigger.onProcessingTime(9, w, ctx)).toBe('fire');
    expect(trigger.onEventTime(9, w, ctx)).toBe('continue');
    trigger.clear(w, ctx);
    expect(timers.timers.size).toBe(0);
  });
});

describe('CountTrigger', () => {
  it('fires every n elements per window and resets', () => {
    const { ctx } = createTriggerContext(w);
    const trigger = CountTrigger.of(3);
    const results = [1, 2, 3, 4, 5, 6, 7].map((i) => trigger.onElement(i, i, w, ctx));
    expect(results).toEqual(['continue', 'continue', 'fire', 'continue', 'continue', 'fire', 'continue']);
  });

  it('counts per window and merges counts of merged windows', () => {
    const other = new TimeWindow(5, 15);
    const { ctx } = createTriggerContext(w);
    const trigger = CountTrigger.of(3);
    trigger.onElement(1, 1, w, ctx);
    ctx.window = other;
    expect(trigger.onElement(2, 6, other, ctx)).toBe('continue');
    const merged = new TimeWindow(0, 15);
    ctx.window = merged;
    ctx.mergedWindows = [w, other];
    trigger.onMerge(merged, ctx);
    expect(trigger.onElement(3, 7, merged, ctx)).toBe('fire');
  });

  it('validates the count', () => {
    expect(() => CountTrigger.of(0)).toThrow('count trigger: the count must be a whole number > 0, got 0');
  });
});

describe('ContinuousEventTimeTrigger', () => {
  it('registers the end timer and the next aligned interval, firing on both', () => {
    const window = new TimeWindow(0, 100);
    const { ctx, timers } = createTriggerContext(window);
    const trigger = ContinuousEventTimeTrigger.of(30);
    expect(trigger.onElement('x', 42, window, ctx)).toBe('continue');
    expect([...timers.timers].sort()).toEqual(['e@60TimeWindow[0, 100)', 'e@99TimeWindow[0, 100)']);
    expect(trigger.onEventTime(60, window, ctx)).toBe('fire');
    expect(timers.timers.has('e@90TimeWindow[0, 100)')).toBe(true);
    expect(trigger.onEventTime(90, window, ctx)).toBe('fire');
    // The next fire time is capped at the window end (FLINK-20443).
    expect(timers.timers.has('e@99TimeWindow[0, 100)')).toBe(true);
    expect(trigger.onEventTime(99, window, ctx)).toBe('fire');
    expect(trigger.onEventTime(75, window, ctx)).toBe('continue');
    // The recording timers keep fired timers; clear removes the pending fire-time timer (here the end).
    trigger.clear(window, ctx);
    expect(timers.timers.has('e@99TimeWindow[0, 100)')).toBe(false);
  });

  it('fires for late elements like the event-time trigger', () => {
    const { ctx, timers } = createTriggerContext(w);
    timers.watermarkMs = 50;
    expect(ContinuousEventTimeTrigger.of(3).onElement('x', 1, w, ctx)).toBe('fire');
  });

  it('rejects a non-positive interval', () => {
    expect(() => ContinuousEventTimeTrigger.of(0)).toThrow('trigger interval must be > 0, got 0ms');
  });
});

describe('ContinuousProcessingTimeTrigger', () => {
  it('fires every interval of processing time, aligned, last at the window end', () => {
    const window = new TimeWindow(0, 100);
    const { ctx, timers } = createTriggerContext(window);
    timers.clock.set(42);
    const trigger = ContinuousProcessingTimeTrigger.of(30);
    expect(trigger.onElement('x', Number.NaN, window, ctx)).toBe('continue');
    expect([...timers.timers]).toEqual(['p@60TimeWindow[0, 100)']);
    expect(trigger.onElement('y', Number.NaN, window, ctx)).toBe('continue');
    expect(timers.timers.size).toBe(1);
    expect(trigger.onProcessingTime(60, window, ctx)).toBe('fire');
    expect(trigger.onProcessingTime(90, window, ctx)).toBe('fire');
    expect(timers.timers.has('p@99TimeWindow[0, 100)')).toBe(true);
    expect(trigger.onProcessingTime(98, window, ctx)).toBe('continue');
    trigger.clear(window, ctx);
    expect([...timers.timers].filter((t) => t.startsWith('p@99'))).toEqual([]);
  });
});

describe('PurgingTrigger', () => {
  it('turns fire into fire-and-purge and delegates the rest', () => {
    const { ctx } = createTriggerContext(w);
    const trigger = PurgingTrigger.of(CountTrigger.of(2));
    expect(trigger.onElement(1, 1, w, ctx)).toBe('continue');
    expect(trigger.onElement(2, 2, w, ctx)).toBe('fire-and-purge');
    expect(trigger.canMerge()).toBe(true);
    expect(String(trigger)).toBe('PurgingTrigger(CountTrigger(2))');
  });
});

describe('NeverTrigger and trigger state rules', () => {
  it('never fires', () => {
    const { ctx } = createTriggerContext(w);
    const trigger: Trigger<unknown, TimeWindow> = NeverTrigger.create();
    expect([trigger.onElement(1, 1, w, ctx), trigger.onEventTime(9, w, ctx), trigger.onProcessingTime(9, w, ctx)]).toEqual(['continue', 'continue', 'continue']);
    expect(ctx.window).toBe(w);
  });

  it('value state cannot be merged by a trigger', () => {
    const { ctx } = createTriggerContext(w);
    expect(() => (ctx.mergePartitionedState as (d: unknown) => void).call(ctx, valueState<number>('v'))).toThrow(/cannot merge/);
  });

  it('trigger state is scoped to the window', () => {
    const { ctx } = createTriggerContext(w);
    const descriptor = valueState<number>('v');
    ctx.getPartitionedState(descriptor).update(1);
    ctx.window = new TimeWindow(10, 20);
    expect(ctx.getPartitionedState(descriptor).value()).toBeUndefined();
    ctx.window = w;
    expect(ctx.getPartitionedState(descriptor).value()).toBe(1);
  });
});
