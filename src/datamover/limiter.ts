/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in arrival order. The backup and the
 * restore share one per run so "--parallel N" bounds the files in flight across the whole tree, not per directory.
 */
export class Limiter {
  readonly limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get running(): number {
    return this.#running;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // Hand the slot straight to the next waiter, so the running count never dips and lets a newcomer jump the queue.
      if (next) next();
      else this.#running--;
    }
  }
}
