/** A metadata-only walk that sums file sizes, for the progress total of a first backup (run on a reader thread). */
import { type Dirent, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

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
