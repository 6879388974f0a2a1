/**
 * Creating and opening repositories: config and key handling, cache, worker pool and index loading.
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import type { ObjectStore } from "../objectstore/types.ts";
import { BlobStore, type DamagedIndexFileError } from "./blob-store.ts";
import { BufferPool } from "./buffer-pool.ts";
import { BoundedCache } from "./cache.ts";
import { gearTable } from "./chunker.ts";
import {
  type ChunkerParams,
  CONFIG_KEY,
  type Compression,
  compressesData,
  createConfig,
  type RepositoryConfig,
  readConfig,
  unwrapMasterKey,
} from "./config.ts";
import { RECORD_OVERHEAD, splitMasterKey } from "./crypto.ts";
import type { LockSettings } from "./locks.ts";
import { configBody } from "./password.ts";
import { SkiffRepository } from "./repository.ts";
import { SealPool } from "./seal-pool.ts";

export interface RepositoryOptions {
  /** Local cache of index files and metadata packs; none when unset. */
  cacheDir?: string;
  /** Hard limit of the cache in MiB (index files included). Default 1024. */
  cacheLimitMB?: number;
  /** Seal worker threads; default defaultSealWorkers (one per core, one fewer without compression). 0: none. */
  workers?: number;
  logger?: Logger;
  /** Clock in milliseconds (tests inject one). */
  now?: () => number;
  /** A lock not refreshed for this long belongs to a dead process. Default 30 minutes. */
  lockStaleAfterMs?: number;
  /** Pause between writing an exclusive lock and checking for racing lock takers. Default 2 s. */
  lockSettleMs?: number;
  /** How long a writer waits for an exclusive (maintenance) lock to go. Default 10 minutes. */
  lockWaitMs?: number;
  /** Pack uploads in flight at once. Default 2 on a filesystem, 3 elsewhere. */
  maxUploads?: number;
  /** Chunk bytes in flight between the chunker and the packs. Default 64 MiB. */
  inflightMB?: number;
  /**
   * Takes the index files that cannot be decoded instead of failing the open (repair-index); the open fails
   * with a DamagedIndexFileError naming the file otherwise.
   */
  onDamagedIndexFile?: (damage: DamagedIndexFileError) => void;
}

export interface InitOptions {
  chunker?: ChunkerParams;
  packSize?: number;
  /** Data chunk compression; default "none". */
  compression?: Compression;
  /** scrypt cost; the default (N=2^15, r=8) takes ~0.1 s. Tests use less. */
  kdf?: { N: number; r: number; p: number };
}

export class RepositoryExistsError extends Error {
  constructor(store: string) {
    super(`a repository already exists at ${store}`);
    this.name = "RepositoryExistsError";
  }
}

export async function initRepository(
  store: ObjectStore,
  password: string,
  options: RepositoryOptions & InitOptions = {},
): Promise<SkiffRepository> {
  const { config } = await createConfig(password, {
    ...(options.chunker ? { chunker: options.chunker } : {}),
    ...(options.packSize ? { packSize: options.packSize } : {}),
    ...(options.compression ? { compression: options.compression } : {}),
    ...(options.kdf ? { kdf: options.kdf } : {}),
    now: new Date(options.now?.() ?? Date.now()),
  });
  const body = configBody(config);
  if (store.putIfAbsent !== undefined) {
    if (!(await store.putIfAbsent(CONFIG_KEY, body))) throw new RepositoryExistsError(store.describe);
  } else {
    if ((await store.stat(CONFIG_KEY)) !== undefined) throw new RepositoryExistsError(store.describe);
    await store.put(CONFIG_KEY, body);
  }
  return openRepository(store, password, options);
}

export async function openRepository(
  store: ObjectStore,
  password: string,
  options: RepositoryOptions = {},
): Promise<SkiffRepository> {
  const config = await readConfig(store);
  const master = await unwrapMasterKey(config, password, store.describe);
  return assemble(store, config, master, options);
}

/**
 * Seal workers for `cores` cores. Without compression a worker only hashes and encrypts, which keeps one
 * worker under half busy per core's worth of reading and chunking on the main thread: on two cores one worker
 * backed up 2 GiB as fast as two (2.9-3.2 s against 3.3 s) with 25 MB less memory. Compression needs a worker
 * per core.
 */
export function defaultSealWorkers(cores: number, compress: boolean): number {
  return compress ? cores : Math.max(1, cores - 1);
}

export function lockSettingsFrom(options: RepositoryOptions): LockSettings {
  return {
    now: options.now ?? Date.now,
    staleAfterMs: options.lockStaleAfterMs ?? 30 * 60_000,
    settleMs: options.lockSettleMs ?? 2000,
    waitMs: options.lockWaitMs ?? 10 * 60_000,
    pollMs: Math.min(5000, Math.max(10, (options.lockWaitMs ?? 10 * 60_000) / 20)),
  };
}

async function assemble(
  store: ObjectStore,
  config: RepositoryConfig,
  master: Buffer,
  options: RepositoryOptions,
): Promise<SkiffRepository> {
  const keys = splitMasterKey(master);
  const cache =
    options.cacheDir === undefined
      ? undefined
      : await BoundedCache.open(join(options.cacheDir, config.id), (options.cacheLimitMB ?? 1024) * 1024 * 1024);
  const workers = options.workers ?? defaultSealWorkers(availableParallelism(), compressesData(config));
  // Enough large chunks in flight to keep every worker busy (hash, seal, upload overlap), and no more.
  const chunksInFlight = Math.max(4, workers * 2);
  // Room for the record's header and tag: without compression a worker seals a chunk in its own buffer.
  const chunkBuffers = new BufferPool(config.chunker.maxSize + RECORD_OVERHEAD, chunksInFlight + 2);
  // Compiled worker code lives beside the repository cache (a directory the user owns), never in a shared /tmp.
  const compileCache = options.cacheDir === undefined ? undefined : join(options.cacheDir, "compiled-code");
  const pool = new SealPool(keys, master, workers, chunkBuffers, compressesData(config), compileCache);
  const blobs = new BlobStore({
    store,
    keys,
    pool,
    cache,
    packSize: config.packSize,
    // A filesystem store writes packs as they fill (only the sync waits); remote stores upload whole packs, where
    // a third upload in flight hides more latency.
    maxUploads: options.maxUploads ?? (store.openWriter === undefined ? 3 : 2),
  });
  try {
    await blobs.loadIndex(options.onDamagedIndexFile);
  } catch (err) {
    await pool.close();
    throw err;
  }
  return new SkiffRepository({
    store,
    config,
    keys,
    gear: gearTable(keys.macBytes),
    blobs,
    pool,
    cache,
    lockSettings: lockSettingsFrom(options),
    inflightBytes: (options.inflightMB ?? 64) * 1024 * 1024,
    chunkBuffers,
    chunksInFlight,
    logger: options.logger,
    options,
    onClose: () => pool.close(),
  });
}
