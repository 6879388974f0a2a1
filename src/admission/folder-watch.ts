/**
 * Watches folders whose contents Kubernetes swaps through symlinks (mounted Secrets and ConfigMaps), so the
 * folder is watched rather than the files. Events are debounced into one change call; a slow poll is the safety
 * net for filesystems without events, and a folder that cannot be watched falls back to the poll alone.
 */
import { type FSWatcher, watch } from "node:fs";
import type { Logger } from "../log.ts";

export interface FolderWatchOptions {
  folders: Iterable<string>;
  /** Called once per burst of events (and on every poll tick); must not throw. */
  onChange: () => void;
  logger: Logger;
  /** What the folder holds, for log lines: "certificate", "policy". */
  what: string;
  debounceMs: number;
  pollMs: number;
}

/** Starts watching; returns the function that stops every watcher and timer. */
export function watchFolders(options: FolderWatchOptions): () => void {
  const { logger, what } = options;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(options.onChange, options.debounceMs);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(options.folders)) {
    try {
      const watcher = watch(dir, { persistent: false }, schedule);
      watcher.on("error", (err) => logger.warn({ dir, err: err.message }, `watching the ${what} folder failed`));
      watchers.push(watcher);
    } catch (err) {
      logger.warn({ dir, err: (err as Error).message }, `cannot watch the ${what} folder; polling only`);
    }
  }
  const poll = setInterval(schedule, options.pollMs);
  poll.unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearInterval(poll);
    for (const watcher of watchers) watcher.close();
  };
}
