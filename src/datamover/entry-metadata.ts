/**
 * Pure mapping between what lstat reports and the repository's TreeEntry, plus the rule that decides whether a
 * file is unchanged since the parent snapshot (and so need not be read again).
 */
import type { BigIntStats } from "node:fs";
import type { EntryType, TreeEntry } from "../repository/types.ts";

export function entryTypeOf(stats: BigIntStats): EntryType {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "dir";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isBlockDevice()) return "block-device";
  if (stats.isCharacterDevice()) return "char-device";
  if (stats.isFIFO()) return "fifo";
  return "socket";
}

/** The metadata part of a TreeEntry (no content, subtree or link target yet). */
export function entryFromStats(name: string, stats: BigIntStats): TreeEntry {
  const type = entryTypeOf(stats);
  const entry: TreeEntry = {
    name,
    type,
    mode: Number(stats.mode & 0o7777n),
    uid: Number(stats.uid),
    gid: Number(stats.gid),
    mtimeNs: stats.mtimeNs.toString(),
    size: type === "file" ? Number(stats.size) : 0,
    inode: stats.ino.toString(),
    ctimeNs: stats.ctimeNs.toString(),
  };
  if (type === "block-device" || type === "char-device") entry.rdev = Number(stats.rdev);
  // Every name of a multiply-linked file carries the same group, so restore can link them together again.
  if (type === "file" && stats.nlink > 1n) entry.hardLinkGroup = `${stats.dev}:${stats.ino}`;
  return entry;
}

/**
 * True when the file can reuse the parent's content without being read: same size, mtime, mode, owner, inode and
 * ctime. ctime catches writers that restore the mtime afterwards; the inode catches a file replaced by another.
 */
export function isUnchangedFile(current: TreeEntry, previous: TreeEntry | undefined): boolean {
  return (
    previous !== undefined &&
    previous.type === "file" &&
    current.type === "file" &&
    previous.size === current.size &&
    previous.mtimeNs === current.mtimeNs &&
    previous.mode === current.mode &&
    previous.uid === current.uid &&
    previous.gid === current.gid &&
    previous.inode !== undefined &&
    previous.inode === current.inode &&
    previous.ctimeNs !== undefined &&
    previous.ctimeNs === current.ctimeNs &&
    (previous.content !== undefined || previous.size === 0)
  );
}

/** Orders entries by the UTF-8 bytes of their names, the order the repository requires. */
export function compareNames(a: string, b: string): number {
  // Fast path: UTF-16 code unit order equals UTF-8 byte order unless surrogates meet U+E000..U+FFFF.
  if (!hasHighChars(a) && !hasHighChars(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function hasHighChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0xd800) return true;
  return false;
}

export function sortEntries(entries: TreeEntry[]): TreeEntry[] {
  return entries.sort((a, b) => compareNames(a.name, b.name));
}

/** Two tree listings describe the same directory (so the parent's tree id can be reused). */
export function sameEntries(a: readonly TreeEntry[], b: readonly TreeEntry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!sameEntry(a[i]!, b[i]!)) return false;
  }
  return true;
}

const comparedFields = [
  "name",
  "type",
  "mode",
  "uid",
  "gid",
  "mtimeNs",
  "size",
  "subtree",
  "linkTarget",
  "hardLinkGroup",
  "rdev",
  "inode",
  "ctimeNs",
] as const satisfies ReadonlyArray<keyof TreeEntry>;

function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  for (const field of comparedFields) if (a[field] !== b[field]) return false;
  return a.content?.id === b.content?.id && a.content?.size === b.content?.size;
}
