/** A metadata-only walk that sums file sizes, for the progress total of a first backup. */
import { type Dirent, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

/**
 * Sums the sizes of the regular files below `root` in a worker thread; resolves to undefined if the walk fails
 * or the signal aborts first (the worker is stopped then).
 */
export function estimateTreeBytes(root: string, signal: AbortSignal): Promise<number | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const worker = new Worker(new URL("./estimate-worker.ts", import.meta.url), { workerData: root });
    // The estimate must never keep the process alive.
    worker.unref();
    const stop = () => {
      void worker.terminate();
      resolve(undefined);
    };
    signal.addEventListener("abort", stop, { once: true });
    worker.once("message", (total: number) => {
      signal.removeEventListener("abort", stop);
      resolve(total);
      void worker.terminate();
    });
    worker.once("error", () => {
      signal.removeEventListener("abort", stop);
      resolve(undefined);
    });
  });
}

/**
 * Depth-first with an explicit stack, so memory is the listings of the open directories, not the whole tree.
 * Synchronous calls: this runs on its own thread.
 */
export function sumFileSizes(root: string): number {
  let total = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) total += lstatSync(path, { throwIfNoEntry: false })?.size ?? 0;
    }
  }
  return total;
}
