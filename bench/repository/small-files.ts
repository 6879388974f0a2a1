/**
 * Many small files: backs up N distinct small files (100-byte contents, 1000 per directory) into a fresh
 * repository, then runs verify, quick and full maintenance, printing files/s and peak RSS of each phase.
 * Shows that memory stays bounded by the compact index, not by one JS object per file.
 *   node bench/repository/small-files.ts [--files 1000000] [--in-flight 16] [--dir D]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openFilesystemStore } from "../../src/objectstore/filesystem.ts";
import { runMaintenance } from "../../src/repository/maintenance.ts";
import { initRepository, openRepository } from "../../src/repository/open.ts";
import type { TreeEntry } from "../../src/repository/types.ts";
import { verifyRepository } from "../../src/repository/verify.ts";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "1000000" },
    dir: { type: "string" },
    "in-flight": { type: "string", default: "16" },
  },
});
const files = Number(values.files);
const perDir = 1000;
const inFlight = Number(values["in-flight"]);
const base = values.dir ?? (await mkdtemp(join(tmpdir(), "skiff-small-")));
let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 100);
const phase = async (name: string, fn: () => Promise<unknown>) => {
  peak = process.memoryUsage.rss();
  const t0 = performance.now();
  const result = await fn();
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      phase: name,
      seconds: Number(seconds.toFixed(1)),
      filesPerSecond: Math.round(files / seconds),
      peakRssMiB: Math.round(peak / 1048576),
    }),
  );
  return result;
};

async function* bytes(data: Uint8Array): AsyncIterable<Uint8Array> {
  yield data;
}

try {
  const store = await openFilesystemStore(join(base, "repo"), { create: true });
  const repo = await initRepository(store, "bench", { lockSettleMs: 0 });
  const content = Buffer.alloc(100, 0x61);
  await phase("backup", async () => {
    const dirs: TreeEntry[] = [];
    for (let d = 0; d * perDir < files; d++) {
      const entries: TreeEntry[] = [];
      const writes: Promise<void>[] = [];
      for (let f = 0; f < perDir && d * perDir + f < files; f++) {
        const data = Buffer.from(content);
        data.writeUInt32LE(d * perDir + f, 0);
        const entry: TreeEntry = {
          name: `file-${String(f).padStart(4, "0")}`,
          type: "file",
          mode: 0o644,
          uid: 1000,
          gid: 1000,
          mtimeNs: "1732540000000000000",
          size: data.length,
        };
        entries.push(entry);
        writes.push(
          repo.writeObject(bytes(data)).then((ref) => {
            entry.content = ref;
          }),
        );
        // Like the data mover, a bounded number of files in flight.
        if (writes.length >= inFlight) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes.splice(0));
      const subtree = await repo.writeTree(entries);
      dirs.push({
        name: `dir-${String(d).padStart(6, "0")}`,
        type: "dir",
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtimeNs: "1",
        size: 0,
        subtree,
      });
    }
    const root = await repo.writeTree(dirs);
    await repo.saveSnapshot({
      startTime: new Date().toISOString(),
      endTime: new Date().toISOString(),
      hostname: "bench",
      source: { path: "/small", volumeMode: "Filesystem" },
      root,
      tags: {},
      stats: { files, dirs: dirs.length, bytes: files * 100, bytesRead: files * 100, bytesStored: 0, errors: 0 },
    });
    await repo.close();
    const m = process.memoryUsage();
    const mib = (n: number) => Math.round(n / 1048576);
    console.log(
      JSON.stringify({
        afterBackup: {
          rss: mib(m.rss),
          heapUsed: mib(m.heapUsed),
          heapTotal: mib(m.heapTotal),
          external: mib(m.external),
          arrayBuffers: mib(m.arrayBuffers),
        },
      }),
    );
  });
  const reader = await openRepository(store, "bench", { lockSettleMs: 0 });
  console.log(
    JSON.stringify({
      blobs: reader.blobs.table.size,
      indexBytes: reader.blobs.table.byteLength,
      bytesPerEntry: Number((reader.blobs.table.byteLength / reader.blobs.table.size).toFixed(1)),
    }),
  );
  await phase("verify", () => verifyRepository(reader));
  await phase("quick maintenance", () => runMaintenance(reader));
  await phase("full maintenance", () => runMaintenance(reader, { full: true, safetyMarginMs: 0 }));
  await reader.close();
} finally {
  clearInterval(sampler);
  if (values.dir === undefined) await rm(base, { recursive: true, force: true });
}
