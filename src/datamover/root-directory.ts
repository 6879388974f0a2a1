/**
 * The backed-up directory's own mode, owner and mtime. A volume's root matters (a database refuses a data
 * directory with the wrong mode or owner), but the root tree id alone carries no attributes, so they travel in
 * an optional manifest field. The repository stores manifests as JSON and keeps fields it does not know, and
 * older snapshots without it restore as before (the target keeps its own attributes).
 */
import type { BigIntStats } from "node:fs";
import type { SnapshotManifest, TreeEntry } from "../repository/types.ts";

export interface RootDirectoryAttributes {
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: string;
}

export type ManifestWithRoot = SnapshotManifest & { rootDirectory?: RootDirectoryAttributes };

export function rootAttributesFrom(stats: BigIntStats): RootDirectoryAttributes {
  return {
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    mtimeNs: stats.mtimeNs.toString(),
  };
}

/** The attributes as a directory entry, for the code that applies entry attributes; undefined when absent. */
export function rootEntryOf(manifest: SnapshotManifest): TreeEntry | undefined {
  const attributes = (manifest as ManifestWithRoot).rootDirectory;
  if (attributes === undefined) return undefined;
  const { mode, uid, gid, mtimeNs } = attributes;
  if (![mode, uid, gid].every(Number.isInteger) || !/^\d+$/.test(mtimeNs)) {
    throw new Error(`snapshot ${manifest.id} has malformed root directory attributes`);
  }
  return { name: ".", type: "dir", mode, uid, gid, mtimeNs, size: 0 };
}
