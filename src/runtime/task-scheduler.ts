import { MAX_STEPS_PER_TURN, type Task } from './task.ts';

/**
 * A task's turn also ends after this long (checked every 4 steps), so that I/O callbacks and timers —
 * a checkpoint's file writes, the coordinator's triggers — wait at most a few ms per task.
 */
const MAX_TURN_MS = 2;

/**
 * Runs the tasks of one thread. A task is on the run queue while it may make progress; each turn it
 * runs up to {@link MAX_STEPS_PER_TURN} steps (a source poll or an input message each), then the next
 * task gets its turn. Between rounds the scheduler yields to the event loop (setImmediate) so that
 * messages from other threads, timers and I/O callbacks get in. A task that cannot progress (no input,
 * no credit, parked on a promise) leaves the queue until something wakes it.
 */
export class TaskScheduler {
  private queue: Task[] = [];
  private isScheduled = false;
  private isStopped = false;
  private idleWaiters: Array<() => void> = [];

  wake(task: Task): void {
    if (this.isStopped || task.isQueued) return;
    task.isQueued = true;
    this.queue.push(task);
    this.schedule();
  }

  /** Resolves once no task of this thread can make progress (all wait for input, credit or a promise). */
  whenIdle(): Promise<void> {
    if (!this.isScheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.isStopped = true;
    for (const task of this.queue) task.isQueued = false;
    this.queue = [];
  }

  private schedule(): void {
    if (this.isScheduled) return;
    this.isScheduled = true;
    setImmediate(() => this.runRound());
  }

  private runRound(): void {
    this.isScheduled = false;
    if (this.isStopped) return;
    const round = this.queue;
    this.queue = [];
    for (const task of round) {
      task.isQueued = false;
      let steps = 0;
      const turnEndsAtMs = performance.now() + MAX_TURN_MS;
      while (steps < MAX_STEPS_PER_TURN && task.isRunnable()) {
        task.runStep();
        steps++;
        if ((steps & 3) === 0 && performance.now() >= turnEndsAtMs) break;
      }
      if (task.isRunnable()) this.wake(task);
      else task.onIdle();
    }
    if (this.queue.length === 0 && this.idleWaiters.length > 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
