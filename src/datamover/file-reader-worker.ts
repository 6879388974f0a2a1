/**
 * Worker thread body that reads small source files whole with synchronous calls (the bytes are moved, not
 * copied, to the main thread), and walks the tree once for the progress estimate of a first backup.
 */
import { serveBatches } from "./batch-worker-pool.ts";
import { sumFileSizes } from "./estimate.ts";
import { readSmallFile } from "./source-reader.ts";

/** Read one small file whole, or sum the file sizes below a directory (the progress estimate). */
export type ReaderJob = { kind: "read"; path: string; expectedSize: number } | { kind: "estimate"; root: string };

serveBatches<ReaderJob, Uint8Array | number>((job) => {
  if (job.kind === "estimate") return { value: sumFileSizes(job.root) };
  const data = readSmallFile(job.path, job.expectedSize);
  return { value: data, transfer: [data.buffer as ArrayBuffer] };
});
