/**
 * Repository maintenance.
 * - quick: removes stale locks and compacts the index (all index files this process knows become a few new
 *   ones; the old ones are deleted only after the new ones are stored, so readers always see every blob).
 * - full: under an exclusive lock, marks every blob reachable from any snapshot (one bit per index slot),
 *   then deletes packs with nothing reachable, rewrites packs with much unreachable data, and deletes packs no
 *   index names. Only packs older than the safety margin are touched, so data of a writer that is still
 *   running (or whose lock went missing) is never removed. Order: new packs, new index, old index files
 *   deleted, old packs deleted, so a crash at any point leaves every reachable blob indexed and present.
 *   What the index lacks is never taken for garbage: a tree or chunk list missing from it stops the run before
 *   anything is deleted, and a missing file chunk keeps every pack no index names (see repair-index.ts).
 */

import { INDEX_PREFIX } from "./blob-store.ts";
import { SlotBits, slotsByPack } from "./index-table.ts";
import { LOCK_PREFIX, listLocks, RepositoryLock } from "./locks.ts";
import { lockSettingsFrom } from "./open.ts";
import { packKey, parsePackKey } from "./pack-format.ts";
import type { SkiffRepository } from "./repository.ts";
import { SnapshotWalker } from "./snapshot-walk.ts";

export interface MaintenanceOptions {
  full?: boolean;
  /** Packs younger than this are never deleted or rewritten. Default 24 hours. */
  safetyMarginMs?: number;
  /** Rewrite a pack when at least this share of it is unreachable. Default 0.25. */
  rewriteThreshold?: number;
  now?: () => number;
}

export interface MaintenanceReport {
  staleLocksRemoved: number;
  indexFilesBefore: number;
  indexFilesAfter: number;
  snapshots: number;
  reachableBlobs: number;
  packsDeleted: number;
  packsRewritten: number;
  unindexedPacksDeleted: number;
  bytesDeleted: number;
  /** Packs left alone only because they are younger than the safety margin. */
  packsKeptForMargin: number;
  /** Half-written objects of writers that died (older than the safety margin), removed. */
  abandonedWritesRemoved: number;
  /**
   * File chunks that snapshots need and no index file names. Their data may sit in a pack whose index file was
   * lost, so packs no index names are kept while there are any (`skiff repo repair-index` indexes them).
   */
  missingChunks: number;
  /** Packs no index names that were kept because chunks are missing (see missingChunks). */
  unindexedPacksKept: number;
}

export async function runMaintenance(
  repo: SkiffRepository,
  options: MaintenanceOptions = {},
): Promise<MaintenanceReport> {
  const settings = lockSettingsFrom({ ...repo.parts.options, ...(options.now ? { now: options.now } : {}) });
  const now = settings.now;
  const report: MaintenanceReport = {
    staleLocksRemoved: 0,
    indexFilesBefore: 0,
    indexFilesAfter: 0,
    snapshots: 0,
    reachableBlobs: 0,
    packsDeleted: 0,
    packsRewritten: 0,
    unindexedPacksDeleted: 0,
    bytesDeleted: 0,
    packsKeptForMargin: 0,
    abandonedWritesRemoved: 0,
    missingChunks: 0,
    unindexedPacksKept: 0,
  };
  const { store } = repo;
  // This process's own writes must not block (or be hidden from) its maintenance.
  await repo.releaseWriteLock();
  const { stale } = await listLocks(store, settings);
  for (const key of stale) if (key.startsWith(LOCK_PREFIX)) await store.delete(key);
  report.staleLocksRemoved = stale.length;

  const lock = await RepositoryLock.acquire(store, options.full ? "exclusive" : "shared", "maintenance", settings);
  try {
    // Writers may have added index files since this repository was opened.
    await repo.blobs.loadIndex();
    report.indexFilesBefore = repo.blobs.indexFiles.length;
    if (options.full) await collectGarbage(repo, options, now(), report);
    else await compactIndex(repo, report);
  } finally {
    await lock.release();
  }
  return report;
}

async function compactIndex(repo: SkiffRepository, report: MaintenanceReport): Promise<void> {
  const blobs = repo.blobs;
  await blobs.flush();
  const old = [...blobs.indexFiles];
  if (old.length <= 1) {
    report.indexFilesAfter = old.length;
    return;
  }
  const all = new Set<number>();
  for (let p = 1; p < blobs.packs.length; p++) if (blobs.packs[p]!.state === "stored") all.add(p);
  const written = await blobs.writeIndexFor(all);
  await removeIndexFiles(repo, old);
  report.indexFilesAfter = written.length;
}

async function removeIndexFiles(repo: SkiffRepository, names: string[]): Promise<void> {
  for (const name of names) await repo.store.delete(`${INDEX_PREFIX}${name}`);
  const gone = new Set(names);
  const kept = repo.blobs.indexFiles.filter((n) => !gone.has(n));
  repo.blobs.indexFiles.splice(0, repo.blobs.indexFiles.length, ...kept);
}

async function collectGarbage(
  repo: SkiffRepository,
  options: MaintenanceOptions,
  nowMs: number,
  report: MaintenanceReport,
): Promise<void> {
  const blobs = repo.blobs;
  const table = blobs.table;
  await blobs.flush();
  const margin = options.safetyMarginMs ?? 24 * 3600_000;
  const threshold = options.rewriteThreshold ?? 0.25;

  // Mark.
  const reachable = new SlotBits(table.capacity);
  const unreadable: string[] = [];
  const missingExamples: string[] = [];
  const walker = new SnapshotWalker(repo, {
    blob(_id, slot, path, what, kind) {
      if (slot < 0) {
        // A tree or chunk list that is not indexed hides everything below it: without it nothing can be proven
        // unreachable. A missing file chunk hides nothing, but its data may be in a pack no index names.
        if (kind === "chunk") {
          report.missingChunks++;
          if (missingExamples.length < 3) missingExamples.push(`${path}: ${what}`);
        } else if (unreadable.length < 5) unreadable.push(`${path}: ${what} is not in the index`);
        return false;
      }
      if (!reachable.has(slot)) {
        reachable.set(slot);
        report.reachableBlobs++;
      }
      return true;
    },
    unreadable(path, what, err) {
      if (unreadable.length < 5)
        unreadable.push(`${path}: ${what}: ${err instanceof Error ? err.message : String(err)}`);
    },
  });
  const damagedManifests: string[] = [];
  const snapshots = await repo.listSnapshots((damage) => damagedManifests.push(damage.id));
  if (damagedManifests.length > 0) {
    // What a damaged manifest references cannot be known, so nothing can be proven unreachable.
    throw new Error(
      `maintenance stopped before deleting anything: snapshot manifests cannot be read: ${damagedManifests.join(", ")} ` +
        "(if they are not wanted, remove them with 'skiff repo snapshots --delete <id>')",
    );
  }
  for (const s of snapshots) await walker.walkSnapshot(s);
  report.snapshots = snapshots.length;
  if (unreadable.length > 0) {
    // Without the whole graph, nothing can be proven unreachable.
    throw new Error(
      `maintenance stopped before deleting anything: ${unreadable.join("; ")} ` +
        `(if index files were lost or damaged, 'skiff repo repair-index' rebuilds the index from the packs)`,
    );
  }
  if (report.missingChunks > 0) {
    repo.parts.logger?.warn(
      { missingChunks: report.missingChunks, examples: missingExamples },
      "snapshots need chunks that no index file names; packs no index names are kept (run 'skiff repo repair-index')",
    );
  }

  // A writer killed mid-pack leaves its temporary file; one older than the margin has no live writer.
  const abandoned = await repo.store.removeAbandonedWrites?.(nowMs - margin);
  if (abandoned !== undefined) {
    report.abandonedWritesRemoved += abandoned.files;
    report.bytesDeleted += abandoned.bytes;
  }

  // Sweep: decide per pack from its listing and its reachable bytes.
  const packCount = blobs.packs.length;
  const live = new Float64Array(packCount);
  for (let slot = 0; slot < table.capacity; slot++) {
    if (table.isUsed(slot) && reachable.has(slot)) live[table.packOf(slot)]! += table.lengthOf(slot);
  }
  const toDelete: { key: string; size: number; reason: "unindexed" | "unreachable" | "rewritten" }[] = [];
  const toRewrite: number[] = [];
  const dropped = new Set<number>();
  for await (const info of repo.store.list("packs/")) {
    const parsed = parsePackKey(info.key);
    if (parsed === undefined) continue;
    const old = nowMs - info.modified >= margin;
    const number = blobs.findPack(parsed.id);
    if (number === undefined) {
      if (report.missingChunks > 0) report.unindexedPacksKept++;
      else if (old) toDelete.push({ key: info.key, size: info.size, reason: "unindexed" });
      else report.packsKeptForMargin++;
      continue;
    }
    const reachableBytes = live[number]!;
    const unused = info.size - reachableBytes;
    if (reachableBytes === 0) {
      if (old) {
        toDelete.push({ key: info.key, size: info.size, reason: "unreachable" });
        dropped.add(number);
      } else report.packsKeptForMargin++;
    } else if (unused / info.size >= threshold) {
      if (old) toRewrite.push(number);
      else report.packsKeptForMargin++;
    }
  }
  if (toDelete.length === 0 && toRewrite.length === 0) {
    await compactIndex(repo, report);
    return;
  }

  // Rewrite: copy reachable records into new packs (records do not depend on their pack, so no re-encryption).
  const byPack = slotsByPack(table, packCount);
  for (const number of toRewrite) {
    const info = blobs.packs[number]!;
    const data = Buffer.from(await repo.store.get(packKey(info.kind, info.id)));
    const slots = byPack.slots.subarray(byPack.start[number]!, byPack.start[number + 1]!);
    for (const slot of slots) {
      if (!reachable.has(slot)) continue;
      const offset = table.offsetOf(slot);
      await blobs.relocate(info.kind, slot, Buffer.from(data.subarray(offset, offset + table.lengthOf(slot))));
    }
    toDelete.push({ key: packKey(info.kind, info.id), size: data.length, reason: "rewritten" });
    dropped.add(number);
    report.packsRewritten++;
  }
  await blobs.flushPacks();
  blobs.takeUnindexed();

  // New index for everything kept, then the old index files, then the packs.
  const old = [...blobs.indexFiles];
  const keep = new Set<number>();
  for (let p = 1; p < packCount; p++) if (!dropped.has(p)) keep.add(p);
  for (let p = packCount; p < blobs.packs.length; p++) keep.add(p);
  const written = await blobs.writeIndexFor(keep);
  await removeIndexFiles(repo, old);
  report.indexFilesAfter = written.length;
  for (const pack of toDelete) {
    await repo.store.delete(pack.key);
    report.bytesDeleted += pack.size;
    if (pack.reason === "unindexed") report.unindexedPacksDeleted++;
    else if (pack.reason === "unreachable") report.packsDeleted++;
  }
  // The table still names what was just deleted; start again from the new index.
  await blobs.reload();
}
