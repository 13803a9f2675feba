/** Buffered text (UTF-16 code units, about bytes for ASCII) that starts a background write. */
export const WRITE_THRESHOLD_CHARS = 64 * 1024;
/** Pending text (buffered + being written) above which `waitUntilWritable` holds the task back. */
export const BACKPRESSURE_THRESHOLD_CHARS = 1024 * 1024;
