/**
 * Writing objects: a stream is cut into chunks (guided by the parent snapshot's chunks when there is one), each
 * chunk hashed, sealed and stored by the seal pool unless the repository has it, and an object of more than one
 * chunk gets a chunk list. Chunk boundaries are found on the calling thread; a byte budget and a count of large
 * chunks in flight bound the memory the chunks on their way hold.
 */
import { untilAborted } from "../abort.ts";
import { ByteBudget } from "./byte-budget.ts";
import { type Chunk, Chunker } from "./chunker.ts";
import { chunkFingerprint } from "./crypto.ts";
import { GuidedChunker, type NextChunk, ParentChunks } from "./guided-chunker.ts";
import type { RepositoryParts } from "./repository.ts";
import { type ChunkRef, encodeChunkList, formatObjectId, parseObjectId } from "./tree-codec.ts";
import type { ObjectRef, WriteOptions } from "./types.ts";

/** What the writer needs from its repository beyond its parts. */
export interface ObjectWriterRepository {
  /** Stores a metadata blob (a chunk list here) and returns its id. */
  storeMetadata(data: Uint8Array): Promise<Buffer>;
  chunksOf(ref: ObjectRef): Promise<ChunkRef[]>;
}

export class ObjectWriter {
  private readonly parts: RepositoryParts;
  private readonly repo: ObjectWriterRepository;
  private readonly budget: ByteBudget;
  /** Large chunks handed to the seal pool and not yet stored (each holds a pooled buffer). */
  private readonly chunkSlots: ByteBudget;
  /** Content being sealed right now, so concurrent writers of the same bytes store them once. */
  private readonly sealing = new Map<string, Promise<void>>();

  constructor(parts: RepositoryParts, repo: ObjectWriterRepository) {
    this.parts = parts;
    this.repo = repo;
    this.budget = new ByteBudget(parts.inflightBytes);
    this.chunkSlots = new ByteBudget(parts.chunksInFlight);
  }

  /** Chunks, deduplicates and stores `source`; the caller holds the repository's write lock. */
  async write(source: AsyncIterable<Uint8Array>, options: WriteOptions = {}): Promise<ObjectRef> {
    const buffers = this.parts.chunkBuffers;
    const keys = this.parts.keys;
    const chunker = new GuidedChunker(
      new Chunker(this.parts.gear, this.parts.config.chunker, buffers),
      buffers,
      await this.parentChunks(options.parent),
      { fingerprint: (data) => chunkFingerprint(keys, data), indexed: (id) => this.parts.blobs.table.find(id) >= 0 },
    );
    const refs: ChunkRef[] = [];
    const running = new Set<Promise<void>>();
    let failure: unknown;
    let size = 0;
    let index = 0;
    const start = async (next: NextChunk) => {
      const at = index++;
      if (next.reuse !== undefined) {
        refs[at] = next.reuse;
        options.onParentMatch?.(next.reuse.size);
        return;
      }
      const { chunk } = next;
      const length = chunk.data.length;
      // Backpressure: wait while too many large chunks are on their way to the packs. Only chunks handed over
      // count, not the one each writer's chunker is filling, or as many parallel writers as slots would each
      // hold a partial chunk and wait for the others forever.
      const slot = chunk.pooled === undefined ? 0 : 1;
      await this.chunkSlots.acquire(slot);
      await this.budget.acquire(length);
      const task = this.storeChunk(chunk)
        .then((stored) => {
          refs[at] = stored;
        })
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => {
          this.budget.release(length);
          this.chunkSlots.release(slot);
          running.delete(task);
        });
      running.add(task);
    };
    const pieces = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        // Cancellation must not wait for a read that may never finish (a stalled pipe or device).
        const next = await untilAborted(pieces.next(), options.signal);
        if (next.done) break;
        const piece = next.value;
        if (failure !== undefined) {
          void Promise.resolve(pieces.return?.()).catch(() => {});
          break;
        }
        size += piece.length;
        for (const chunk of chunker.push(piece)) await start(chunk);
      }
      if (failure === undefined) {
        for (const last of chunker.finish()) {
          // The final chunk is empty when the object ended on a boundary; it is stored only for an empty object.
          if (last.reuse !== undefined || last.chunk.data.length > 0 || index === 0) await start(last);
          else if (last.chunk.pooled !== undefined) buffers.give(last.chunk.pooled);
        }
      }
    } catch (err) {
      // Release the source without waiting on it (it may be blocked in a read).
      void Promise.resolve(pieces.return?.()).catch(() => {});
      throw err;
    } finally {
      chunker.discard();
      await Promise.all([...running]);
    }
    if (failure !== undefined) throw failure;
    options.signal?.throwIfAborted();
    if (refs.length === 1) return { id: formatObjectId(false, refs[0]!.id), size };
    const listId = await this.repo.storeMetadata(encodeChunkList(refs));
    return { id: formatObjectId(true, listId), size };
  }

  /**
   * For writeObject with a parent: the parent's chunks, when it has more than one and they have fingerprints.
   * Without (a parent of one chunk, or one whose chunk list predates fingerprints or cannot be read) every chunk
   * is hashed: slower, never wrong.
   */
  private async parentChunks(parent: ObjectRef | undefined): Promise<ParentChunks | undefined> {
    if (parent === undefined || !parseObjectId(parent.id).list) return undefined;
    const chunks = await this.repo.chunksOf(parent).catch(() => undefined);
    if (chunks === undefined || chunks[0]?.fingerprint === undefined) return undefined;
    return new ParentChunks(chunks);
  }

  /** Stores one chunk unless the repository has it; returns its reference for the chunk list. */
  private async storeChunk(chunk: Chunk): Promise<ChunkRef> {
    // Read before hashing: the chunk's buffer moves to a seal worker, which leaves `data` empty here.
    const size = chunk.data.length;
    const hashed = await this.parts.pool.hash(chunk);
    const { id, fingerprint } = hashed;
    const stored = { id, size, fingerprint };
    if (this.parts.blobs.table.find(id) >= 0) {
      await hashed.drop();
      return stored;
    }
    const key = id.toString("hex");
    const other = this.sealing.get(key);
    if (other !== undefined) {
      await hashed.drop();
      await other;
      return stored;
    }
    const work = (async () => {
      const sealed = await hashed.seal();
      try {
        await this.parts.blobs.add("d", id, sealed.record);
      } finally {
        sealed.release();
      }
    })();
    this.sealing.set(key, work);
    try {
      await work;
    } finally {
      this.sealing.delete(key);
    }
    return stored;
  }
}
