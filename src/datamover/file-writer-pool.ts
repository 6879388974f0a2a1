/**
 * Worker threads that create small restored files (see file-writer-worker.ts). Jobs are batched per event-loop
 * turn, so the main thread pays one message per batch instead of seven thread-pool round trips per file.
 */
import { Worker } from "node:worker_threads";
import type { SmallFileJob, SmallFileResult } from "./file-writer-worker.ts";

const maxBatch = 32;

interface Pending {
  resolve: (bytesWritten: number) => void;
  reject: (err: Error) => void;
}

export class SmallFileWriterPool {
  readonly #workers: Worker[] = [];
  /** Batches sent per worker, to pick the least busy one. */
  readonly #busy: number[] = [];
  readonly #batches = new Map<number, { worker: number; pending: Pending[]; paths: string[] }>();
  #nextBatch = 0;
  #queued: Array<{ job: SmallFileJob; pending: Pending }> = [];
  #flushScheduled = false;
  #failure: Error | undefined;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./file-writer-worker.ts", import.meta.url));
      worker.on("message", (message: { id: number; results: SmallFileResult[] }) => this.#settle(message));
      worker.on("error", (err) => this.#fail(err));
      this.#workers.push(worker);
      this.#busy.push(0);
    }
  }

  /** Creates the file; resolves to the bytes written (fewer than its size when holes were left). */
  write(job: SmallFileJob): Promise<number> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise<number>((resolve, reject) => {
      this.#queued.push({ job, pending: { resolve, reject } });
      if (this.#queued.length >= maxBatch) this.#flush();
      else if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (this.#queued.length > 0) {
      const batch = this.#queued.splice(0, maxBatch);
      let worker = 0;
      for (let i = 1; i < this.#busy.length; i++) if (this.#busy[i]! < this.#busy[worker]!) worker = i;
      const id = this.#nextBatch++;
      this.#busy[worker]!++;
      this.#batches.set(id, { worker, pending: batch.map((b) => b.pending), paths: batch.map((b) => b.job.path) });
      this.#workers[worker]!.postMessage({ id, jobs: batch.map((b) => b.job) });
    }
  }

  #settle(message: { id: number; results: SmallFileResult[] }): void {
    const batch = this.#batches.get(message.id);
    if (!batch) return;
    this.#batches.delete(message.id);
    this.#busy[batch.worker]!--;
    message.results.forEach((result, i) => {
      const pending = batch.pending[i]!;
      if (result.ok) pending.resolve(result.bytesWritten);
      else {
        const err = new Error(`cannot restore '${batch.paths[i]}': ${result.message}`) as NodeJS.ErrnoException;
        if (result.code !== undefined) err.code = result.code;
        pending.reject(err);
      }
    });
  }

  #fail(err: Error): void {
    this.#failure = new Error("a restore writer thread failed", { cause: err });
    for (const batch of this.#batches.values()) for (const p of batch.pending) p.reject(this.#failure);
    this.#batches.clear();
  }
}
