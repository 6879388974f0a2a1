/**
 * Builds a source tree with every kind of entry the data mover must carry (modes with setuid/setgid/sticky,
 * foreign owners, symlinks incl. dangling, hard links, empty directories, fifos, sparse and empty files, odd
 * names, a deep path), and describes a tree so two can be compared.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const isRoot = process.geteuid?.() === 0;

/** Root in a container may still lack CAP_MKNOD. */
export const canMakeDevices = isRoot && probeMknod();

function probeMknod(): boolean {
  const probe = join(tmpdir(), `skiff-mknod-probe-${process.pid}`);
  try {
    execFileSync("mknod", [probe, "c", "1", "3"], { stdio: "ignore" });
    rmSync(probe);
    return true;
  } catch {
    return false;
  }
}

/** Deterministic pseudo-random bytes (so dedup across runs and sources is predictable). */
export function bytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function buildRichTree(root: string): void {
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o750);
  if (isRoot) chownSync(root, 999, 998);
  writeFileSync(join(root, "plain.txt"), "hello data mover\n");
  writeFileSync(join(root, "empty"), "");
  writeFileSync(join(root, "random.bin"), bytes(1, 300_000));
  mkdirSync(join(root, "empty-dir"));
  mkdirSync(join(root, "modes"));
  writeFileSync(join(root, "modes", "setuid"), "s");
  chmodSync(join(root, "modes", "setuid"), 0o4755);
  writeFileSync(join(root, "modes", "setgid"), "g");
  chmodSync(join(root, "modes", "setgid"), 0o2750);
  writeFileSync(join(root, "modes", "private"), "p");
  chmodSync(join(root, "modes", "private"), 0o600);
  writeFileSync(join(root, "modes", "no-access"), "n");
  chmodSync(join(root, "modes", "no-access"), 0o000);
  mkdirSync(join(root, "modes", "sticky"));
  chmodSync(join(root, "modes", "sticky"), 0o1777);
  mkdirSync(join(root, "modes", "read-only-dir"));
  writeFileSync(join(root, "modes", "read-only-dir", "inside"), "i");
  chmodSync(join(root, "modes", "read-only-dir"), 0o555);
  if (isRoot) {
    writeFileSync(join(root, "owned"), "owner");
    chownSync(join(root, "owned"), 1234, 5678);
    mkdirSync(join(root, "owned-dir"));
    chownSync(join(root, "owned-dir"), 4321, 8765);
  }
  mkdirSync(join(root, "links"));
  symlinkSync("../plain.txt", join(root, "links", "to-plain"));
  symlinkSync("does/not/exist", join(root, "links", "dangling"));
  symlinkSync("/absolute/target with space", join(root, "links", "absolute"));
  writeFileSync(join(root, "links", "hard-a"), "shared by two names\n");
  linkSync(join(root, "links", "hard-a"), join(root, "links", "hard-b"));
  mkdirSync(join(root, "links", "sub"));
  linkSync(join(root, "links", "hard-a"), join(root, "links", "sub", "hard-c"));
  execFileSync("mkfifo", [join(root, "a-fifo")]);
  if (canMakeDevices) execFileSync("mknod", [join(root, "null-device"), "c", "1", "3"]);
  // 1 MiB of data, a 3 MiB hole, 1 MiB of data, then a 2 MiB hole at the end.
  const sparse = openSync(join(root, "sparse.img"), "w");
  writeSync(sparse, bytes(2, 1 << 20), 0, 1 << 20, 0);
  writeSync(sparse, bytes(3, 1 << 20), 0, 1 << 20, 4 << 20);
  ftruncateSync(sparse, 7 << 20);
  closeSync(sparse);
  writeFileSync(join(root, "naïve ünïcödé ✓ 𝄞"), "unicode");
  writeFileSync(join(root, "new\nline"), "newline in name");
  writeFileSync(join(root, " leading space"), "space");
  let deep = root;
  for (let i = 0; i < 40; i++) deep = join(deep, `d${i}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, "bottom"), "deep");
  // Distinct, sub-second mtimes everywhere, directories last (creating entries changes them).
  setTimes(root, 1_600_000_000);
}

/** Sets every entry's mtime to a distinct value with microseconds, bottom-up. */
export function setTimes(dir: string, base: number): number {
  let next = base;
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const info = lstatSync(path);
    if (info.isDirectory()) next = setTimes(path, next);
    next += 1.234567;
    lutimesSync(path, next, next);
  }
  next += 1.5;
  lutimesSync(dir, next, next);
  return next;
}

export interface EntryDescription {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size: number;
  sha256?: string;
  linkTarget?: string;
  /** Index of the first path with the same inode (hard links), or undefined. */
  linkedTo?: string;
  blocks?: number;
}

/** Every entry below `root` by relative path, and `root` itself as ".". */
export function describeTree(root: string): Map<string, EntryDescription> {
  const out = new Map<string, EntryDescription>();
  const self = lstatSync(root, { bigint: true });
  out.set(".", {
    type: "dir",
    mode: Number(self.mode & 0o7777n),
    uid: Number(self.uid),
    gid: Number(self.gid),
    mtimeNs: self.mtimeNs,
    size: 0,
  });
  const inodes = new Map<string, string>();
  const visit = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const relPath = rel === "" ? name : `${rel}/${name}`;
      const info = lstatSync(path, { bigint: true });
      const type = info.isFile()
        ? "file"
        : info.isDirectory()
          ? "dir"
          : info.isSymbolicLink()
            ? "symlink"
            : info.isFIFO()
              ? "fifo"
              : info.isCharacterDevice()
                ? `char-device ${info.rdev}`
                : "other";
      const description: EntryDescription = {
        type,
        mode: Number(info.mode & 0o7777n),
        uid: Number(info.uid),
        gid: Number(info.gid),
        mtimeNs: info.mtimeNs,
        size: type === "file" ? Number(info.size) : 0,
      };
      if (type === "file") {
        description.sha256 = createHash("sha256").update(readFileSync(path)).digest("hex");
        const key = `${info.dev}:${info.ino}`;
        if (info.nlink > 1n) {
          const first = inodes.get(key);
          if (first === undefined) inodes.set(key, relPath);
          else description.linkedTo = first;
        }
      }
      if (type === "symlink") description.linkTarget = readlinkSync(path);
      out.set(relPath, description);
      if (type === "dir") visit(path, relPath);
    }
  };
  visit(root, "");
  return out;
}

/** Allocated 512-byte blocks of a file (shows whether holes were kept). */
export function allocatedBlocks(path: string): number {
  return lstatSync(path).blocks;
}

/**
 * Asserts two described trees are the same. Node's utimes takes seconds as a double (about 0.24 µs at
 * present-day times), so mtimes may differ by up to a microsecond; everything else must be equal.
 */
export function assertSameTree(actual: Map<string, EntryDescription>, expected: Map<string, EntryDescription>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [path, want] of expected) {
    const got = actual.get(path)!;
    const drift = got.mtimeNs - want.mtimeNs;
    assert.ok(drift <= 1000n && drift >= -1000n, `mtime of '${path}' differs by ${drift} ns`);
    assert.deepEqual({ ...got, mtimeNs: 0n }, { ...want, mtimeNs: 0n }, `entry '${path}' differs`);
  }
}
