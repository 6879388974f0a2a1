/**
 * Worker threads that take many small jobs (create or read one small file each) in batches: the main thread
 * pays one message per batch of up to 32 instead of several thread-pool round trips per file, and the workers'
 * synchronous file system calls cost microseconds each. Used with serveBatches() on the worker side.
 */
import { parentPort, type TransferListItem, Worker } from "node:worker_threads";

const maxBatch = 32;
/** Buffers waiting to go back to the workers; more are left to the collector. */
const maxGifts = 64;

/**
 * These threads hold little besides the buffers in flight (outside the heap): small heap limits keep each
 * thread's footprint to a few MB instead of V8's defaults.
 */
export const workerLimits = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 48 };

/**
 * Threads for small-file work: each costs ~10 MB, and two keep the file system busy while the main thread runs
 * the repository; a single reader or writer when --parallel is 1.
 */
export function smallFileThreads(parallelFiles: number): number {
  return Math.min(2, Math.max(1, parallelFiles));
}

export type BatchResult<R> = { ok: true; value: R } | { ok: false; message: string; code?: string };

interface Pending<R> {
  resolve: (value: R) => void;
  reject: (err: Error) => void;
  what: string;
}

/** One job failed (the file's own problem); the pool itself is fine. */
export class JobError extends Error {
  /** The error as the worker saw it, e.g. "EACCES: permission denied, open '/v/secret'". */
  readonly reason: string;
  readonly code: string | undefined;
  constructor(message: string, result: { message: string; code?: string }) {
    super(message);
    this.name = "JobError";
    this.reason = result.message;
    this.code = result.code;
  }
}

export class BatchWorkerPool<J, R> {
  readonly #workers: Worker[] = [];
  /** Batches in flight per worker, to give the next one to the least busy. */
  readonly #busy: number[] = [];
  readonly #batches = new Map<number, { worker: number; pending: Pending<R>[] }>();
  #nextBatch = 0;
  #queued: Array<{ job: J; pending: Pending<R> }> = [];
  #flushScheduled = false;
  #gifts: ArrayBuffer[] = [];
  #failure: Error | undefined;
  readonly #describe: string;

  /**
   * `describe` names the work in messages, e.g. "restore" gives "cannot restore '<what>': ...". `workerData`
   * (optional) is given to every worker.
   */
  constructor(script: URL, size: number, describe: string, workerData?: unknown) {
    this.#describe = describe;
    this.#script = script;
    this.#size = size;
    this.#workerData = workerData;
  }

  readonly #script: URL;
  readonly #size: number;
  readonly #workerData: unknown;

  /** Threads start with the first batch: a backup without small files never starts them. */
  #start(): void {
    for (let i = this.#workers.length; i < this.#size; i++) {
      const worker = new Worker(this.#script, { resourceLimits: workerLimits, workerData: this.#workerData });
      worker.on("message", (message: { id: number; results: BatchResult<R>[] }) => this.#settle(message));
      worker.on("error", (err) => this.#fail(err));
      this.#workers.push(worker);
      this.#busy.push(0);
    }
  }

  /** Jobs queued or in a worker's hands. */
  get pendingJobs(): number {
    let jobs = this.#queued.length;
    for (const batch of this.#batches.values()) jobs += batch.pending.length;
    return jobs;
  }

  /** Runs one job; `what` (a path) names it in the error if it fails. */
  run(job: J, what: string): Promise<R> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<R>((resolve, reject) => {
      this.#queued.push({ job, pending: { resolve, reject, what } });
      if (this.#queued.length >= maxBatch) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * Hands a buffer to a worker for reuse (see serveBatches' `receive`). It travels with the next batch: a message
   * of its own would wake the worker once more per buffer.
   */
  give(buffer: ArrayBuffer): void {
    if (this.#failure === undefined && this.#gifts.length < maxGifts) this.#gifts.push(buffer);
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.splice(0).map((w) => w.terminate()));
    this.#busy.length = 0;
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#queued.length > 0) this.#start();
    while (this.#queued.length > 0) {
      const batch = this.#queued.splice(0, maxBatch);
      let worker = 0;
      for (let i = 1; i < this.#busy.length; i++) if (this.#busy[i]! < this.#busy[worker]!) worker = i;
      const id = this.#nextBatch++;
      this.#busy[worker]!++;
      this.#batches.set(id, { worker, pending: batch.map((b) => b.pending) });
      const gifts = this.#gifts;
      this.#gifts = [];
      this.#workers[worker]!.postMessage({ id, jobs: batch.map((b) => b.job), gifts }, gifts);
    }
  }

  #settle(message: { id: number; results: BatchResult<R>[] }): void {
    const batch = this.#batches.get(message.id);
    if (!batch) return;
    this.#batches.delete(message.id);
    this.#busy[batch.worker]!--;
    message.results.forEach((result, i) => {
      const pending = batch.pending[i]!;
      if (result.ok) {
        pending.resolve(result.value);
        return;
      }
      pending.reject(new JobError(`cannot ${this.#describe} '${pending.what}': ${result.message}`, result));
    });
  }

  #fail(err: Error): void {
    this.#failure = new Error(`a ${this.#describe} thread failed`, { cause: err });
    for (const batch of this.#batches.values()) for (const p of batch.pending) p.reject(this.#failure);
    this.#batches.clear();
  }
}

/**
 * The worker side: answers each batch with one result per job. `handle` returns the value and the buffers to
 * transfer (moved, not copied, to the main thread); several values may share one buffer. `endBatch` runs after
 * the last job of each batch; `receive` takes the buffers the pool gives back (BatchWorkerPool.give).
 */
export function serveBatches<J, R>(
  handle: (job: J) => { value: R; transfer?: TransferListItem[] },
  hooks: { endBatch?: () => void; receive?: (buffer: ArrayBuffer) => void } = {},
): void {
  parentPort?.on("message", (message: { id: number; jobs: J[]; gifts?: ArrayBuffer[] }) => {
    if (hooks.receive !== undefined) for (const gift of message.gifts ?? []) hooks.receive(gift);
    const transfer: TransferListItem[] = [];
    const results: BatchResult<R>[] = message.jobs.map((job) => {
      try {
        const done = handle(job);
        if (done.transfer) for (const item of done.transfer) if (!transfer.includes(item)) transfer.push(item);
        return { ok: true, value: done.value };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return { ok: false, message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) };
      }
    });
    hooks.endBatch?.();
    parentPort?.postMessage({ id: message.id, results }, transfer);
  });
}
