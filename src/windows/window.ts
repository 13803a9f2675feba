/**
 * A window: a finite (or, for {@link GlobalWindow}, endless) bucket of elements that a trigger fires.
 * Its `maxTimestamp()` is the largest timestamp that still belongs to it; an event-time window is
 * complete when the watermark reaches it, and its state is cleaned up at
 * `maxTimestamp() + allowedLateness` (saturating at MAX_WATERMARK).
 */
export interface Window {
  maxTimestamp(): number;
}
