/** The data mover's library API: what the `skiff data-mover` commands and the benchmarks use. */
export { type BackupOptions, BackupSourceError, backupBlock, backupDirectory } from "./backup.ts";
export type { SourceIssue } from "./backup-walk.ts";
export { SourceIssueError } from "./backup-walk.ts";
export { selectParentSnapshot } from "./parent.ts";
export type { Progress, ProgressListener } from "./progress.ts";
export {
  type RestoreOptions,
  type RestoreResult,
  type RestoreStats,
  RestoreTargetError,
  restoreSnapshot,
} from "./restore.ts";
