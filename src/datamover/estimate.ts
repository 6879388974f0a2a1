/** A metadata-only walk that sums file sizes, for the progress total of a first backup. */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

export async function estimateTreeBytes(root: string, signal: AbortSignal): Promise<number> {
  let total = 0;
  // Depth-first with an explicit stack: memory is the listing of the open directories, not the whole tree.
  const stack = [root];
  while (stack.length > 0) {
    signal.throwIfAborted();
    const dir = stack.pop()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const files: string[] = [];
    for (const entry of entries) {
      if (entry.isDirectory()) stack.push(join(dir, entry.name));
      else if (entry.isFile()) files.push(join(dir, entry.name));
    }
    for (let i = 0; i < files.length; i += 64) {
      const sizes = await Promise.all(
        files.slice(i, i + 64).map((f) =>
          lstat(f).then(
            (s) => s.size,
            () => 0,
          ),
        ),
      );
      for (const size of sizes) total += size;
    }
  }
  return total;
}
