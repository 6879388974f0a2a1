/**
 * Policies from a mounted folder, hot-reloaded. A ConfigMap volume updates by swapping a `..data` symlink, so
 * the folder is watched (debounced) and files are read through their symlinks. One unreadable or invalid
 * file is reported and the others are kept.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { parsePolicyDocuments } from "../policy/index.ts";
import { watchFolders } from "./folder-watch.ts";
import type { SourceContents } from "./policy-store.ts";

/** Reads every *.yaml / *.yml (following symlinks, skipping dot-files such as ..data) in name order. */
export async function readPolicyFolder(dir: string): Promise<SourceContents> {
  const result: SourceContents = { policies: [], errors: [] };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith(".")).sort();
  } catch (err) {
    result.errors.push({ source: dir, path: "", message: `cannot read the policy folder: ${(err as Error).message}` });
    return result;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (!(await stat(path)).isFile()) continue;
      const parsed = parsePolicyDocuments(await readFile(path, "utf8"), path);
      result.policies.push(...parsed.policies);
      result.errors.push(...parsed.errors);
    } catch (err) {
      result.errors.push({ source: path, path: "", message: `cannot read: ${(err as Error).message}` });
    }
  }
  return result;
}

export interface PolicyFolderWatch {
  /** Reads the folder now and reports it. */
  reload(): Promise<void>;
  stop(): void;
}

export function watchPolicyFolder(
  dir: string,
  onLoad: (contents: SourceContents) => void,
  logger: Logger,
  options: { debounceMs?: number; pollMs?: number } = {},
): PolicyFolderWatch {
  let lastText = "";
  let running: Promise<void> | undefined;

  const reload = async () => {
    // One read at a time; a change during a read schedules another.
    while (running) await running;
    running = (async () => {
      const contents = await readPolicyFolder(dir);
      // Skip identical reloads (the poll, or several events for one change).
      const text = JSON.stringify(contents, (k, v) => (k === "lines" ? undefined : v));
      if (text === lastText) return;
      lastText = text;
      logger.info({ dir, policies: contents.policies.length, errors: contents.errors.length }, "policy folder loaded");
      onLoad(contents);
    })().finally(() => {
      running = undefined;
    });
    await running;
  };
  const stop = watchFolders({
    folders: [dir],
    onChange: () => {
      reload().catch((err) => logger.error({ err, dir }, "reloading policies failed"));
    },
    logger,
    what: "policy",
    debounceMs: options.debounceMs ?? 300,
    pollMs: options.pollMs ?? 30_000,
  });
  return { reload, stop };
}
