/**
 * Repository verification. Always: every index entry names a pack that exists and lies inside it, and every
 * snapshot's trees, chunk lists and chunks are in the index. With readData: every pack is read, its trailer
 * and every blob authenticated and re-hashed, and the index compared with the trailers. Problems are values
 * in the report; each damaged blob is traced to the snapshots and file paths that need it.
 */
import { blobId } from "./crypto.ts";
import { SlotBits, slotsByPack } from "./index-table.ts";
import { decodeTrailer, parsePackKey } from "./pack-format.ts";
import type { SkiffRepository } from "./repository.ts";
import { SnapshotWalker } from "./snapshot-walk.ts";

export interface VerifyOptions {
  /** Read and authenticate every pack (slow: reads the whole repository). */
  readData?: boolean;
  /** At most this many paths are listed per snapshot (default 100). */
  maxPathsPerSnapshot?: number;
}

export interface VerifyProblem {
  kind:
    | "missing-pack"
    | "damaged-pack"
    | "damaged-blob"
    | "bad-index-entry"
    | "unreadable"
    | "damaged-snapshot"
    /** An index file that cannot be decoded (reported by the CLI, which opens the repository without it). */
    | "damaged-index";
  message: string;
  /** For damaged-snapshot: the snapshot and the paths that cannot be restored whole; for an unreadable manifest, its id. */
  snapshot?: string;
  paths?: string[];
}

export interface VerifyReport {
  ok: boolean;
  problems: VerifyProblem[];
  snapshots: number;
  packs: number;
  blobs: number;
  /** Packs no index names (left by an interrupted writer; maintenance removes them after the safety margin). */
  unindexedPacks: number;
  bytesRead: number;
}

export async function verifyRepository(repo: SkiffRepository, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { blobs, store } = repo;
  const table = blobs.table;
  const problems: VerifyProblem[] = [];
  const bad = new SlotBits(table.capacity);
  const listed = new Map<number, number>();
  let unindexedPacks = 0;
  let bytesRead = 0;

  for await (const info of store.list("packs/")) {
    const parsed = parsePackKey(info.key);
    if (parsed === undefined) continue;
    const number = blobs.findPack(parsed.id);
    if (number === undefined) unindexedPacks++;
    else listed.set(number, info.size);
  }

  // Index entries against pack sizes.
  const reported = new Set<number>();
  for (let slot = 0; slot < table.capacity; slot++) {
    if (!table.isUsed(slot)) continue;
    const pack = table.packOf(slot);
    const size = listed.get(pack);
    const info = blobs.packs[pack]!;
    if (size === undefined) {
      bad.set(slot);
      if (!reported.has(pack)) {
        reported.add(pack);
        problems.push({ kind: "missing-pack", message: `pack ${info.kind}/${info.id} is missing` });
      }
    } else if (table.offsetOf(slot) + table.lengthOf(slot) > size) {
      bad.set(slot);
      problems.push({
        kind: "bad-index-entry",
        message: `blob ${table.idOf(slot).toString("hex")} lies beyond the end of pack ${info.kind}/${info.id}`,
      });
    }
  }

  if (options.readData) {
    const byPack = slotsByPack(table, blobs.packs.length);
    for (const [pack, size] of listed) {
      const info = blobs.packs[pack]!;
      const name = `${info.kind}/${info.id}`;
      let data: Buffer;
      try {
        data = Buffer.from(await store.get(`packs/${name}`));
        bytesRead += size;
      } catch (err) {
        problems.push({ kind: "missing-pack", message: `pack ${name} cannot be read: ${String(err)}` });
        for (const slot of slotsOf(byPack, pack)) bad.set(slot);
        continue;
      }
      let entries: ReturnType<typeof decodeTrailer>;
      try {
        entries = decodeTrailer(repo.parts.keys, info.id, data);
      } catch (err) {
        problems.push({ kind: "damaged-pack", message: err instanceof Error ? err.message : String(err) });
        entries = [];
      }
      const inTrailer = new Set<number>();
      for (const e of entries) {
        const slot = table.find(e.id);
        if (slot < 0 || table.packOf(slot) !== pack) continue; // an unindexed or duplicate copy
        inTrailer.add(slot);
        if (table.offsetOf(slot) !== e.offset || table.lengthOf(slot) !== e.length) {
          bad.set(slot);
          problems.push({
            kind: "bad-index-entry",
            message: `index and trailer of pack ${name} disagree about blob ${e.id.toString("hex")}`,
          });
        }
      }
      // Authenticate every blob the index places in this pack.
      await forEachLimited(slotsOf(byPack, pack), 8, async (slot) => {
        const id = table.idOf(slot);
        const offset = table.offsetOf(slot);
        const record = data.subarray(offset, offset + table.lengthOf(slot));
        try {
          const plain = await repo.parts.pool.open(id, record);
          if (!blobId(repo.parts.keys, plain).equals(id)) throw new Error("content does not match its id");
          if (!inTrailer.has(slot) && entries.length > 0) throw new Error("missing from the pack trailer");
        } catch (err) {
          bad.set(slot);
          const why = err instanceof Error ? err.message : String(err);
          problems.push({ kind: "damaged-blob", message: `blob ${id.toString("hex")} in pack ${name}: ${why}` });
        }
      });
    }
  }

  // Attribute unusable blobs to snapshots and paths.
  const maxPaths = options.maxPathsPerSnapshot ?? 100;
  let snapshotCount = 0;
  let current: { id: string; paths: string[]; count: number; reasons: Set<string> } | undefined;
  const note = (path: string, reason: string) => {
    if (current === undefined) return;
    current.count++;
    if (current.paths.length < maxPaths && current.paths.at(-1) !== path) current.paths.push(path);
    if (current.reasons.size < 5) current.reasons.add(reason);
  };
  const walker = new SnapshotWalker(repo, {
    blob(id, slot, path, what) {
      if (slot < 0) {
        note(path, `${what} is not in the index`);
        return false;
      }
      if (bad.has(slot)) {
        note(path, `${what} is damaged or missing (blob ${id.toString("hex")})`);
        return false;
      }
      return true;
    },
    unreadable(path, what, err) {
      note(path, `${what} cannot be read: ${err instanceof Error ? err.message : String(err)}`);
    },
    revisit: () => true,
  });
  let manifests: Awaited<ReturnType<SkiffRepository["listSnapshots"]>> = [];
  try {
    manifests = await repo.listSnapshots((damage) =>
      problems.push({
        kind: "unreadable",
        snapshot: damage.id,
        message: `${damage.key} cannot be read: ${damage.reason}`,
      }),
    );
  } catch (err) {
    problems.push({ kind: "unreadable", message: `snapshot manifests cannot be listed: ${String(err)}` });
  }
  for (const snapshot of manifests) {
    snapshotCount++;
    current = { id: snapshot.id, paths: [], count: 0, reasons: new Set() };
    await walker.walkSnapshot(snapshot);
    if (current.count > 0) {
      problems.push({
        kind: "damaged-snapshot",
        snapshot: snapshot.id,
        paths: current.paths,
        message: `snapshot ${snapshot.id} (${snapshot.source.path}): ${current.paths.length} path(s) affected, e.g. ${current.paths.slice(0, 3).join(", ")}: ${[...current.reasons].join("; ")}`,
      });
    }
  }
  current = undefined;

  return {
    ok: problems.length === 0,
    problems,
    snapshots: snapshotCount,
    packs: listed.size,
    blobs: table.size,
    unindexedPacks,
    bytesRead,
  };
}

function slotsOf(byPack: { start: Uint32Array; slots: Uint32Array }, pack: number): Uint32Array {
  return byPack.slots.subarray(byPack.start[pack]!, byPack.start[pack + 1]!);
}

async function forEachLimited(items: Uint32Array, limit: number, fn: (item: number) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for (const item of items) {
    const p: Promise<void> = fn(item).finally(() => running.delete(p));
    running.add(p);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}
