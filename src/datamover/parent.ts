/** Choosing the snapshot an incremental backup compares against. */
import type { SnapshotManifest } from "../repository/types.ts";

export interface ParentCriteria {
  path: string;
  volumeMode: "Filesystem" | "Block";
  tags: Record<string, string>;
  /** Tag keys that must match; default every key in `tags`. Keys such as a backup's own name never match. */
  matchTags?: readonly string[] | undefined;
}

/** The most recent snapshot of the same source whose chosen tags match, or undefined. */
export function selectParentSnapshot(
  snapshots: readonly SnapshotManifest[],
  criteria: ParentCriteria,
): SnapshotManifest | undefined {
  const keys = criteria.matchTags ?? Object.keys(criteria.tags);
  let best: SnapshotManifest | undefined;
  for (const snapshot of snapshots) {
    if (snapshot.source.path !== criteria.path || snapshot.source.volumeMode !== criteria.volumeMode) continue;
    if (!keys.every((key) => snapshot.tags[key] === criteria.tags[key])) continue;
    if (best === undefined || snapshot.startTime > best.startTime) best = snapshot;
  }
  return best;
}
