/**
 * Brute-force reference implementations of the bundled jobs' semantics, written independently of the
 * engine (no Eddy imports), used as golden outputs in the end-to-end tests. They simulate the one
 * thing the output depends on besides the records: the watermark, which a file source advances after
 * every batch of at most 1,000 lines to (max timestamp seen − out-of-orderness − 1).
 */
export const SOURCE_BATCH_SIZE = 1000;

/** The watermark in force when record i (0-based) of a single input file arrives. */
export function watermarksBeforeEachRecord(timestamps: readonly number[], outOfOrdernessMs: number): number[] {
  const result: number[] = [];
  let watermark = Number.MIN_SAFE_INTEGER;
  let maxTs = Number.MIN_SAFE_INTEGER;
  for (let i = 0; i < timestamps.length; i++) {
    if (i > 0 && i % SOURCE_BATCH_SIZE === 0) watermark = Math.max(watermark, maxTs - outOfOrdernessMs - 1);
    result.push(watermark);
    maxTs = Math.max(maxTs, timestamps[i]!);
  }
  return result;
}

export function wordCountReference(text: string): string[] {
  const counts = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    for (const match of line.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu)) {
      counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word, count]) => `${word},${count}`);
}

export interface Reading {
  readonly sensor: string;
  readonly ts: number;
  readonly value: number;
}

export interface Average {
  readonly sensor: string;
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly count: number;
  readonly avg: number;
  readonly late: boolean;
}

/**
 * Sliding event-time windows with Flink's rules, re-derived from scratch: a window [start, end) with
 * maxTs = end − 1 fires on time when the watermark reaches maxTs, again (late) for every element
 * added after that, and is dropped once the watermark reaches maxTs + lateness. An element is added to
 * each of its windows that is not yet dropped; if none is left, it is late data.
 */
export function movingAverageReference(
  readings: readonly Reading[],
  options: { sizeMs: number; slideMs: number; outOfOrdernessMs: number; allowedLatenessMs: number },
): { averages: Average[]; late: Reading[] } {
  const { sizeMs, slideMs, allowedLatenessMs } = options;
  const watermarks = watermarksBeforeEachRecord(readings.map((r) => r.ts), options.outOfOrdernessMs);
  interface WindowState {
    sensor: string;
    start: number;
    count: number;
    sum: number;
    hasFired: boolean;
  }
  const windows = new Map<string, WindowState>();
  const averages: Average[] = [];
  const late: Reading[] = [];
  const emit = (window: WindowState, isLate: boolean) =>
    averages.push({
      sensor: window.sensor,
      windowStart: window.start,
      windowEnd: window.start + sizeMs,
      count: window.count,
      avg: window.sum / window.count,
      late: isLate,
    });
  let currentWatermark = Number.MIN_SAFE_INTEGER;
  const advance = (watermark: number) => {
    if (watermark <= currentWatermark) return;
    currentWatermark = watermark;
    for (const [id, window] of [...windows.entries()].sort((a, b) => a[1].start - b[1].start)) {
      const maxTs = window.start + sizeMs - 1;
      if (!window.hasFired && maxTs <= watermark) {
        window.hasFired = true;
        emit(window, false);
      }
      if (maxTs + allowedLatenessMs <= watermark) windows.delete(id);
    }
  };
  readings.forEach((reading, i) => {
    advance(watermarks[i]!);
    const lastStart = reading.ts - mod(reading.ts, slideMs);
    let accepted = 0;
    for (let start = lastStart; start > reading.ts - sizeMs; start -= slideMs) {
      const maxTs = start + sizeMs - 1;
      if (maxTs + allowedLatenessMs <= currentWatermark) continue;
      accepted++;
      const id = `${reading.sensor}|${start}`;
      let window = windows.get(id);
      if (window === undefined) {
        window = { sensor: reading.sensor, start, count: 0, sum: 0, hasFired: false };
        windows.set(id, window);
      }
      window.count++;
      window.sum += reading.value;
      if (maxTs <= currentWatermark) {
        window.hasFired = true;
        emit(window, true);
      }
    }
    if (accepted === 0) late.push(reading);
  });
  advance(Number.MAX_SAFE_INTEGER);
  return { averages, late };
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

export interface PatternEvent {
  readonly key: string;
  readonly type: string;
  readonly ts: number;
}

/** For every on-time A: the B of the same key with the smallest ts in (A.ts, A.ts + within] that arrived before the A's deadline passed. */
export function patternAlertReference(
  events: readonly PatternEvent[],
  options: { withinMs: number; outOfOrdernessMs: number },
): { alerts: Array<{ key: string; aTs: number; bTs: number }>; late: PatternEvent[] } {
  const watermarks = watermarksBeforeEachRecord(events.map((e) => e.ts), options.outOfOrdernessMs);
  const accepted: Array<{ event: PatternEvent; arrivalWatermark: number }> = [];
  const late: PatternEvent[] = [];
  events.forEach((event, i) => {
    if (event.type !== 'A' && event.type !== 'B') return;
    if (event.ts <= watermarks[i]!) late.push(event);
    else accepted.push({ event, arrivalWatermark: watermarks[i]! });
  });
  const alerts: Array<{ key: string; aTs: number; bTs: number }> = [];
  for (const { event: a } of accepted) {
    if (a.type !== 'A') continue;
    const deadline = a.ts + options.withinMs;
    let best: number | undefined;
    for (const { event: b, arrivalWatermark } of accepted) {
      if (b.type !== 'B' || b.key !== a.key || b.ts <= a.ts || b.ts > deadline) continue;
      // The A's timer fires when the watermark reaches its deadline: a B arriving later is not seen.
      if (arrivalWatermark >= deadline) continue;
      if (best === undefined || b.ts < best) best = b.ts;
    }
    if (best !== undefined) alerts.push({ key: a.key, aTs: a.ts, bTs: best });
  }
  return { alerts, late };
}

export interface Activity {
  readonly user: string;
  readonly ts: number;
}

/** Sessions from scratch: sort each user's on-time events, split where the next event is more than a gap after the previous. */
export function sessionizeReference(
  events: readonly Activity[],
  options: { gapMs: number; outOfOrdernessMs: number },
): Array<{ user: string; start: number; end: number; count: number }> {
  const watermarks = watermarksBeforeEachRecord(events.map((e) => e.ts), options.outOfOrdernessMs);
  const byUser = new Map<string, number[]>();
  events.forEach((event, i) => {
    if (event.ts <= watermarks[i]!) throw new Error('reference model: test data must not contain late events');
    const list = byUser.get(event.user) ?? [];
    list.push(event.ts);
    byUser.set(event.user, list);
  });
  const sessions: Array<{ user: string; start: number; end: number; count: number }> = [];
  for (const [user, timestamps] of byUser) {
    timestamps.sort((a, b) => a - b);
    let start = timestamps[0]!;
    let last = start;
    let count = 0;
    for (const ts of timestamps) {
      if (ts > last + options.gapMs) {
        sessions.push({ user, start, end: last + options.gapMs, count });
        start = ts;
        count = 0;
      }
      last = ts;
      count++;
    }
    sessions.push({ user, start, end: last + options.gapMs, count });
  }
  return sessions;
}

export interface OrderOrPayment {
  readonly orderId: string;
  readonly ts: number;
}

export function correlateReference(
  orders: readonly OrderOrPayment[],
  payments: readonly OrderOrPayment[],
  withinMs: number,
): { matches: Array<{ orderId: string; orderTs: number; paymentTs: number }>; unmatched: OrderOrPayment[] } {
  const matches: Array<{ orderId: string; orderTs: number; paymentTs: number }> = [];
  const unmatched: OrderOrPayment[] = [];
  for (const order of orders) {
    let isMatched = false;
    for (const payment of payments) {
      if (payment.orderId === order.orderId && payment.ts >= order.ts && payment.ts <= order.ts + withinMs) {
        matches.push({ orderId: order.orderId, orderTs: order.ts, paymentTs: payment.ts });
        isMatched = true;
      }
    }
    if (!isMatched) unmatched.push(order);
  }
  return { matches, unmatched };
}
