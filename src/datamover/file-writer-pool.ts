/** Writer threads that create small restored files (see file-writer-worker.ts). */
import { BatchWorkerPool } from "./batch-worker-pool.ts";
import type { SmallFileJob } from "./file-writer-worker.ts";

export class SmallFileWriterPool {
  readonly #pool: BatchWorkerPool<SmallFileJob, number>;

  constructor(size: number) {
    this.#pool = new BatchWorkerPool(new URL("./file-writer-worker.ts", import.meta.url), size, "restore");
  }

  /** Creates the file; resolves to the bytes written (fewer than its size when holes were left). */
  write(job: SmallFileJob): Promise<number> {
    return this.#pool.run(job, job.path);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
