/**
 * Repository write/read throughput on a generated stream (default 1 GiB: half random, half compressible text),
 * fed from memory so the figure is the repository's own. Prints MB/s, CPU figures (bytes per CPU-second over
 * all threads, and cores kept busy: the steadier numbers on a shared machine), stored size and peak RSS.
 *   node bench/repository/throughput.ts [--size-mb 1024] [--kind mixed|random|text] [--workers N] [--dir D]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openFilesystemStore } from "../../src/objectstore/filesystem.ts";
import { initRepository, openRepository } from "../../src/repository/open.ts";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "1024" },
    kind: { type: "string", default: "mixed" },
    workers: { type: "string" },
    dir: { type: "string" },
    // Allocate every source piece afresh (as a naive reader does) instead of reusing a few buffers.
    fresh: { type: "boolean", default: false },
  },
});
const total = Number(values["size-mb"]) * 1024 * 1024;
const PIECE = 1 << 20;

// A pool of source blocks, reused with a varying prefix so chunks do not dedup against each other.
const randomPool = randomBytes(64 << 20);
const textPool = Buffer.alloc(64 << 20);
{
  const words = ["backup", "volume", "snapshot", "kubernetes", "restore", "object", "storage", "cluster", "node"];
  let at = 0;
  let x = 7;
  while (at < textPool.length - 64) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    at += textPool.write(`${words[x % words.length]}-${x % 100000} `, at);
  }
}

const ring = [Buffer.alloc(PIECE), Buffer.alloc(PIECE)];

async function* source(kind: string): AsyncIterable<Uint8Array> {
  let sent = 0;
  let n = 0;
  while (sent < total) {
    const useText = kind === "text" || (kind === "mixed" && sent >= total / 2);
    const pool = useText ? textPool : randomPool;
    const start = (n * 4099 * 16 + (useText ? 0 : n * 13)) % (pool.length - PIECE);
    // The repository copies what it is given, so a reader may reuse its buffers.
    const piece = values.fresh ? Buffer.allocUnsafe(PIECE) : ring[n % ring.length]!;
    pool.copy(piece, 0, start, start + PIECE);
    piece.writeUInt32LE(n++, 0); // every piece differs
    if (!useText) randomBytes(4096).copy(piece, 4096 * (n % 200));
    sent += piece.length;
    yield piece;
  }
}

const base = values.dir ?? (await mkdtemp(join(tmpdir(), "skiff-bench-")));
const repoDir = join(base, "repo");
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 50);
const options = values.workers === undefined ? {} : { workers: Number(values.workers) };
try {
  const store = await openFilesystemStore(repoDir, { create: true });
  const repo = await initRepository(store, "bench", { ...options, lockSettleMs: 0 });
  let t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const ref = await repo.writeObject(source(values.kind ?? "mixed"));
  await repo.saveSnapshot({
    startTime: new Date().toISOString(),
    endTime: new Date().toISOString(),
    hostname: "bench",
    source: { path: "/bench", volumeMode: "Block" },
    block: { ...ref, mode: 0o600 },
    tags: {},
    stats: { files: 1, dirs: 0, bytes: total, bytesRead: total, bytesStored: 0, errors: 0 },
  });
  const writeSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const writeCpuSeconds = (cpu.user + cpu.system) / 1e6;
  await repo.close();
  let stored = 0;
  for await (const info of store.list("")) stored += info.size;

  const reader = await openRepository(store, "bench", options);
  t0 = performance.now();
  const readCpu0 = process.cpuUsage();
  let read = 0;
  for await (const piece of reader.readObject(ref)) read += piece.length;
  const readSeconds = (performance.now() - t0) / 1000;
  const readCpu = process.cpuUsage(readCpu0);
  const readCpuSeconds = (readCpu.user + readCpu.system) / 1e6;
  await reader.close();
  if (read !== total) throw new Error(`read ${read} bytes, wrote ${total}`);
  const mb = total / 1e6;
  console.log(
    JSON.stringify({
      kind: values.kind,
      sizeMiB: total / 1048576,
      writeMBps: Math.round(mb / writeSeconds),
      readMBps: Math.round(mb / readSeconds),
      // CPU seconds (all threads) per second of writing: how many cores the write kept busy.
      writeCores: Number((writeCpuSeconds / writeSeconds).toFixed(2)),
      writeCpuMBps: Math.round(mb / writeCpuSeconds),
      writeCpuSeconds: Number(writeCpuSeconds.toFixed(2)),
      readCores: Number((readCpuSeconds / readSeconds).toFixed(2)),
      readCpuMBps: Math.round(mb / readCpuSeconds),
      storedMiB: Math.round(stored / 1048576),
      peakRssMiB: Math.round(peakRss / 1048576),
    }),
  );
} finally {
  clearInterval(sampler);
  if (values.dir === undefined) await rm(base, { recursive: true, force: true });
}
