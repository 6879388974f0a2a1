/**
 * Rebuilding the index from the packs (`skiff repo repair-index`). Index files only summarise what the packs
 * already say: every pack ends in a sealed trailer listing its blobs. So when an index file is damaged or lost,
 * the packs it named can be indexed again from their trailers. Under an exclusive lock:
 *
 * 1. load the index files that decode; damaged ones are reported and left out;
 * 2. list the packs, and read the trailer of every pack no loaded index file names (of every pack with
 *    `readAllPacks`, which ignores the index files altogether);
 * 3. write new index files for the packs that exist. Entries naming packs that are gone are dropped: left in,
 *    later backups would deduplicate against blobs that no longer exist and be born broken; dropped, those
 *    backups store the content again;
 * 4. delete the old index files.
 *
 * New index files are stored before any old one is deleted, so a crash at any point leaves every blob that was
 * indexed still indexed. Trailers are authenticated like every sealed file, so a pack cannot be indexed with
 * entries it does not hold.
 */
import { type DamagedIndexFileError, INDEX_PREFIX } from "./blob-store.ts";
import { LOCK_PREFIX, listLocks, RepositoryLock } from "./locks.ts";
import { lockSettingsFrom } from "./open.ts";
import { openTrailer, PACK_TAIL_BYTES, type PackEntry, parsePackKey, trailerLength } from "./pack-format.ts";
import type { SkiffRepository } from "./repository.ts";

export interface RepairIndexOptions {
  /** Rebuild from every pack's trailer, not only from those of packs no readable index file names. */
  readAllPacks?: boolean;
  now?: () => number;
}

export interface RepairIndexReport {
  /** Index files present before the repair (readable or not). */
  indexFilesBefore: number;
  /** Index files that could not be decoded, and why. They are replaced. */
  damagedIndexFiles: { key: string; reason: string }[];
  packs: number;
  trailersRead: number;
  /** Packs that no readable index file named, now indexed from their trailers. */
  packsIndexed: number;
  /** Blobs that were not in the index (or only in packs that are gone) and now are. */
  blobsIndexed: number;
  /** Packs whose trailer could not be read: their blobs stay unindexed. `skiff repo verify` names what they hurt. */
  unreadablePacks: { key: string; reason: string }[];
  /** Packs the index named that no longer exist. */
  missingPacks: number;
  /** Index entries dropped because their pack no longer exists. */
  entriesDropped: number;
  /** Whether the index was rewritten (false: it already matched the packs). */
  rewritten: boolean;
  indexFilesAfter: number;
}

export async function repairIndex(repo: SkiffRepository, options: RepairIndexOptions = {}): Promise<RepairIndexReport> {
  const settings = lockSettingsFrom({ ...repo.parts.options, ...(options.now ? { now: options.now } : {}) });
  const { store, blobs } = repo;
  await repo.releaseWriteLock();
  const { stale } = await listLocks(store, settings);
  for (const key of stale) if (key.startsWith(LOCK_PREFIX)) await store.delete(key);
  const lock = await RepositoryLock.acquire(store, "exclusive", "repair-index", settings);
  try {
    return await repairUnderLock(repo, options.readAllPacks === true);
  } finally {
    await lock.release();
    // Whatever happened, the table matches the stored index files again (damaged ones still left out).
    await blobs.reload(() => {});
  }
}

async function repairUnderLock(repo: SkiffRepository, readAllPacks: boolean): Promise<RepairIndexReport> {
  const { store, blobs } = repo;
  // Read the index again under the lock: writers may have added index files since the repository was opened.
  const damaged: DamagedIndexFileError[] = [];
  await blobs.reload((damage) => damaged.push(damage));
  const report: RepairIndexReport = {
    indexFilesBefore: blobs.indexFiles.length + damaged.length,
    damagedIndexFiles: damaged.map((d) => ({ key: d.key, reason: d.reason })),
    packs: 0,
    trailersRead: 0,
    packsIndexed: 0,
    blobsIndexed: 0,
    unreadablePacks: [],
    missingPacks: 0,
    entriesDropped: 0,
    rewritten: false,
    indexFilesAfter: 0,
  };
  const oldIndexFiles = [...blobs.indexFiles.map((name) => `${INDEX_PREFIX}${name}`), ...damaged.map((d) => d.key)];
  if (readAllPacks) blobs.forget();

  const listed = new Map<number, number>();
  const unnamed: { key: string; id: string; kind: "d" | "m"; size: number }[] = [];
  for await (const info of store.list("packs/")) {
    const parsed = parsePackKey(info.key);
    if (parsed === undefined) continue;
    report.packs++;
    const number = blobs.findPack(parsed.id);
    if (number === undefined) unnamed.push({ key: info.key, ...parsed, size: info.size });
    else listed.set(number, info.size);
  }
  for (let number = 1; number < blobs.packs.length; number++) if (!listed.has(number)) report.missingPacks++;

  for (const pack of unnamed) {
    let entries: PackEntry[];
    try {
      entries = await readTrailer(repo, pack.key, pack.id, pack.size);
    } catch (err) {
      report.unreadablePacks.push({ key: pack.key, reason: err instanceof Error ? err.message : String(err) });
      continue;
    }
    report.trailersRead++;
    const number = blobs.packNumber(pack.id, pack.kind);
    listed.set(number, pack.size);
    report.packsIndexed++;
    const table = blobs.table;
    for (const entry of entries) {
      const { slot, added } = table.insert(entry.id, number, entry.offset, entry.length);
      if (added) report.blobsIndexed++;
      else if (!listed.has(table.packOf(slot))) {
        // The index had this blob only in a pack that is gone; this pack holds a copy.
        table.relocate(slot, number, entry.offset, entry.length);
        report.blobsIndexed++;
      }
    }
  }

  const table = blobs.table;
  for (let slot = 0; slot < table.capacity; slot++) {
    if (table.isUsed(slot) && !listed.has(table.packOf(slot))) report.entriesDropped++;
  }
  const changed =
    readAllPacks ||
    damaged.length > 0 ||
    report.packsIndexed > 0 ||
    report.entriesDropped > 0 ||
    report.missingPacks > 0;
  if (!changed) {
    report.indexFilesAfter = blobs.indexFiles.length;
    return report;
  }
  // Every entry of a pack that exists, in new files; only then are the old ones deleted.
  blobs.indexFiles.length = 0;
  const written = await blobs.writeIndexFor(new Set(listed.keys()));
  const kept = new Set(written.map((name) => `${INDEX_PREFIX}${name}`));
  for (const key of oldIndexFiles) if (!kept.has(key)) await store.delete(key);
  report.rewritten = true;
  report.indexFilesAfter = written.length;
  return report;
}

/** A pack's trailer entries, read from the end of the pack alone (two ranged reads, not the whole pack). */
async function readTrailer(repo: SkiffRepository, key: string, id: string, size: number): Promise<PackEntry[]> {
  if (size < PACK_TAIL_BYTES) throw new Error(`pack ${id} has no trailer (truncated or not a pack)`);
  const tail = await repo.store.get(key, { offset: size - PACK_TAIL_BYTES, length: PACK_TAIL_BYTES });
  const sealedLength = trailerLength(id, tail, size);
  const recordsEnd = size - PACK_TAIL_BYTES - sealedLength;
  const sealed = await repo.store.get(key, { offset: recordsEnd, length: sealedLength });
  return openTrailer(repo.parts.keys, id, sealed, recordsEnd);
}
