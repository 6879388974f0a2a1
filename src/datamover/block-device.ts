/** Sizes of block devices, which lstat reports as 0. */
import type { BigIntStats } from "node:fs";
import { open, readFile } from "node:fs/promises";

/**
 * The device's size in bytes: from sysfs (sectors of 512 bytes) when available, otherwise by seeking to the end
 * with a positional read probe. Returns 0 when it cannot be told; progress then has no total.
 */
export async function deviceSize(path: string, stats: BigIntStats): Promise<number> {
  const major = Number(stats.rdev >> 8n) & 0xfff;
  const minor = Number((stats.rdev & 0xffn) | ((stats.rdev >> 12n) & 0xfff00n));
  try {
    const sectors = await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8");
    const value = Number(sectors.trim()) * 512;
    if (Number.isFinite(value)) return value;
  } catch {
    // Not on sysfs (e.g. inside some containers): fall back to probing.
  }
  return probeSize(path);
}

/** Binary search for the last readable byte; a few dozen reads even for large devices. */
async function probeSize(path: string): Promise<number> {
  const handle = await open(path, "r");
  try {
    const one = Buffer.alloc(1);
    const readable = async (offset: number) => (await handle.read(one, 0, 1, offset)).bytesRead === 1;
    if (!(await readable(0))) return 0;
    let low = 0;
    let high = 1;
    while (await readable(high)) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await readable(mid)) low = mid;
      else high = mid;
    }
    return low + 1;
  } finally {
    await handle.close();
  }
}
