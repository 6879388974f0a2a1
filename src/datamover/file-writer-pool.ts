/** Writer threads that create small restored files (see file-writer-worker.ts). */
import { BatchWorkerPool } from "./batch-worker-pool.ts";
import type { SmallFileJob } from "./file-writer-worker.ts";

export class SmallFileWriterPool {
  readonly #size: number;
  /** Started with the first small file: a restore of large files only never pays for the threads. */
  #pool: BatchWorkerPool<SmallFileJob, number> | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  /** Creates the file; resolves to the bytes written (fewer than its size when holes were left). */
  write(job: SmallFileJob): Promise<number> {
    this.#pool ??= new BatchWorkerPool(new URL("./file-writer-worker.ts", import.meta.url), this.#size, "restore");
    return this.#pool.run(job, job.path);
  }

  close(): Promise<void> {
    return this.#pool?.close() ?? Promise.resolve();
  }
}
