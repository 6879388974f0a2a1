/**
 * Ownership, permission bits and times of restored entries. Node has no mkfifo/mknod, so special files are made
 * with the coreutils commands (rare enough that a process per file does not matter).
 */
import { execFile } from "node:child_process";
import type { FileHandle } from "node:fs/promises";
import { chmod, chown, lchown, lutimes, utimes } from "node:fs/promises";
import { promisify } from "node:util";
import type { TreeEntry } from "../repository/types.ts";

const run = promisify(execFile);

/**
 * Seconds since the epoch as Node's utimes takes them. A double keeps about 0.24 µs at today's dates, the best
 * Node's utimes API allows; the integer and fractional parts are converted apart so nothing worse is lost.
 */
export function secondsFromNs(ns: string): number {
  const value = BigInt(ns);
  const seconds = value / 1_000_000_000n;
  const remainder = value % 1_000_000_000n;
  return Number(seconds) + Number(remainder) / 1e9;
}

export interface AttributePolicy {
  /** Set owners (only when running as root; otherwise files keep the restoring user). */
  chown: boolean;
}

/** chown before chmod: changing the owner clears setuid/setgid, so the mode must come after it. */
export async function applyToHandle(handle: FileHandle, entry: TreeEntry, policy: AttributePolicy): Promise<void> {
  if (policy.chown) await handle.chown(entry.uid, entry.gid);
  await handle.chmod(entry.mode);
  const t = secondsFromNs(entry.mtimeNs);
  await handle.utimes(t, t);
}

export async function applyToPath(path: string, entry: TreeEntry, policy: AttributePolicy): Promise<void> {
  const t = secondsFromNs(entry.mtimeNs);
  if (entry.type === "symlink") {
    // Linux has no symlink permission bits; owner and times are the link's own (lchown, lutimes).
    if (policy.chown) await lchown(path, entry.uid, entry.gid);
    await lutimes(path, t, t);
    return;
  }
  if (policy.chown) await chown(path, entry.uid, entry.gid);
  await chmod(path, entry.mode);
  await utimes(path, t, t);
}

export async function makeFifo(path: string): Promise<void> {
  await run("mkfifo", ["-m", "0600", "--", path]);
}

export async function makeDevice(path: string, entry: TreeEntry): Promise<void> {
  const rdev = BigInt(entry.rdev ?? 0);
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  await run("mknod", [
    "-m",
    "0600",
    "--",
    path,
    entry.type === "block-device" ? "b" : "c",
    String(major),
    String(minor),
  ]);
}
