/**
 * Worker thread body that reads small source files whole with synchronous calls; the bytes are moved (not
 * copied) to the main thread.
 */
import { serveBatches } from "./batch-worker-pool.ts";
import { readSmallFile } from "./source-reader.ts";

export interface SmallReadJob {
  path: string;
  expectedSize: number;
}

serveBatches((job: SmallReadJob) => {
  const data = readSmallFile(job.path, job.expectedSize);
  return { value: data, transfer: [data.buffer as ArrayBuffer] };
});
