/**
 * Reads every file below a directory once, so the page cache holds it before a measured step. Without it the
 * first tool of a step may read from the disk what the others then find in memory ("warm" must mean warm for
 * every tool). Synchronous reads into one reused buffer: a few hundred milliseconds for cached data.
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readSync } from "node:fs";
import { mkdir, open, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { CommandSpec } from "./measure.ts";
import type { Tool } from "./tools.ts";

const buffer = Buffer.allocUnsafe(1 << 20);

/** A missing directory (a repository that lives on S3) is left alone. */
export function warmPageCache(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) warmPageCache(path);
    else if (entry.isFile()) {
      const fd = openSync(path, "r");
      try {
        while (readSync(fd, buffer, 0, buffer.length, null) > 0) {}
      } finally {
        closeSync(fd);
      }
    }
  }
}

/**
 * One unmeasured pass of every command a tool is measured with, on a tiny data set, before the first round.
 * Skiff runs from its TypeScript sources: the first process to load a module strips its types and leaves the
 * result in the compile cache that bin/skiff sets up, and a process that has to strip types loads the stripper
 * (measured: about 20 MB more peak RSS, and a slower start). An installed Skiff runs with a warm cache, so the
 * measured runs should too; without this pass, the first round after any code change reported 15-20 MB more for
 * the backup and the restore. The peers get the same pass (their binaries into the page cache).
 */
export async function warmUpTools(
  tools: readonly Tool[],
  dir: string,
  run: (spec: CommandSpec, label: string) => Promise<{ stdout: string }>,
  createRepo: (tool: Tool, repo: string) => Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  const source = join(dir, "data");
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(source, "sub"), { recursive: true });
  for (let i = 0; i < 20; i++)
    await writeFile(join(source, "sub", `small-${i}.txt`), `small file ${i}\n`.repeat(i + 1));
  const big = join(source, "big.bin");
  await writeFile(big, randomBytes(6 << 20));
  for (const tool of tools) {
    const repo = join(dir, `${tool.name}-repo`);
    try {
      await createRepo(tool, repo);
      const first = await run(tool.backup(repo, source), `${tool.name} warm-up backup`);
      tool.snapshotId(first.stdout, repo);
      // A changed large file: the second backup takes the incremental paths too.
      const handle = await open(big, "r+");
      await handle.write(randomBytes(4096), 0, 4096, 3 << 20);
      await handle.close();
      const second = await run(tool.backup(repo, source), `${tool.name} warm-up backup`);
      const target = join(dir, `${tool.name}-target`);
      await run(tool.restore(repo, tool.snapshotId(second.stdout, repo), target), `${tool.name} warm-up restore`);
      if (tool.maintenance) await run(tool.maintenance(repo), `${tool.name} warm-up maintenance`);
    } catch (err) {
      // The measured steps run the same commands and report a failure where it belongs.
      log(`${tool.name}: warm-up failed: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
}
