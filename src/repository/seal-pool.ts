/**
 * Runs the hot path (hash, compress, encrypt; decrypt, decompress on reads) on a pool of worker threads, one
 * per core by default. Small chunks are handled on the calling thread: for them a round trip to a worker costs
 * more than the work. With zero workers everything runs inline (tests, tiny machines).
 */
import { Worker } from "node:worker_threads";
import type { BufferPool } from "./buffer-pool.ts";
import type { Chunk } from "./chunker.ts";
import { blobId, chunkFingerprint, IntegrityError, openBlob, type RepositoryKeys, sealBlob } from "./crypto.ts";
import type { WorkerReply, WorkerRequest, WorkerSetup } from "./seal-worker.ts";

/** Below this size a record is opened on the calling thread. */
const INLINE_BELOW = 64 * 1024;

export interface SealedRecord {
  record: Buffer;
  /** Hands the record's buffer back for reuse once it has been copied into a pack. */
  release(): void;
}

export interface HashedChunk {
  id: Buffer;
  /** The chunk's fingerprint (crypto.chunkFingerprint), kept in the chunk list. */
  fingerprint: Buffer;
  /** Seals the chunk held for this hash (exactly one of seal/drop must be called). */
  seal(): Promise<SealedRecord>;
  drop(): Promise<void>;
}

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(err: Error): void;
}

interface PooledWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class SealPool {
  private readonly keys: RepositoryKeys;
  private readonly chunks: BufferPool;
  private readonly workers: PooledWorker[] = [];
  private seq = 0;
  private closed = false;

  private readonly setup: WorkerSetup;
  private readonly wanted: number;
  private readonly compress: boolean;

  private readonly compileCacheDir: string | undefined;

  /**
   * `compileCacheDir` (optional) keeps the workers' compiled code between runs: without it every worker strips
   * the TypeScript types of its modules again, which loads a compiler per thread (measured: two workers take
   * 59 MB of memory and ~0.2 CPU s each to start, 33 MB with a warm cache). It must be a directory only this
   * user can write, since code is loaded from it.
   */
  constructor(
    keys: RepositoryKeys,
    master: Buffer,
    workerCount: number,
    chunks: BufferPool,
    compress: boolean,
    compileCacheDir?: string,
  ) {
    this.keys = keys;
    this.chunks = chunks;
    this.compress = compress;
    this.setup = { master, maxChunk: chunks.size, compress };
    this.wanted = workerCount;
    this.compileCacheDir = compileCacheDir;
  }

  /** Workers start with the first large chunk: a backup of small files never pays for them. */
  private start(): void {
    for (let i = this.workers.length; i < this.wanted; i++) {
      const worker = new Worker(new URL("./seal-worker.ts", import.meta.url), {
        workerData: this.setup,
        // The workers' own objects are few and short-lived; a small young generation keeps their memory flat.
        resourceLimits: { maxYoungGenerationSizeMb: 8 },
        ...(this.compileCacheDir === undefined
          ? {}
          : { env: { ...process.env, NODE_COMPILE_CACHE: this.compileCacheDir } }),
      });
      const pooled: PooledWorker = { worker, pending: new Map() };
      worker.on("message", (reply: WorkerReply) => {
        const p = pooled.pending.get(reply.seq);
        if (p === undefined) return;
        pooled.pending.delete(reply.seq);
        // Keep the process alive only while a reply is awaited.
        if (pooled.pending.size === 0) worker.unref();
        if ("error" in reply) p.reject(reply.integrity ? new IntegrityError(reply.error) : new Error(reply.error));
        else p.resolve(reply);
      });
      worker.on("error", (err) => this.failAll(pooled, err));
      worker.on("exit", (code) => {
        if (!this.closed) this.failAll(pooled, new Error(`seal worker exited with code ${code}`));
      });
      worker.unref();
      this.workers.push(pooled);
    }
  }

  get workerCount(): number {
    return this.wanted;
  }

  private failAll(pooled: PooledWorker, err: Error): void {
    for (const p of pooled.pending.values()) p.reject(err);
    pooled.pending.clear();
  }

  private pick(): PooledWorker | undefined {
    if (this.closed) return undefined;
    if (this.workers.length < this.wanted) this.start();
    let best: PooledWorker | undefined;
    for (const w of this.workers) if (best === undefined || w.pending.size < best.pending.size) best = w;
    return best;
  }

  private call(w: PooledWorker, msg: WorkerRequest & { seq: number }, transfer: ArrayBuffer[] = []) {
    return new Promise<WorkerReply>((resolve, reject) => {
      w.pending.set(msg.seq, { resolve, reject });
      w.worker.ref();
      w.worker.postMessage(msg, transfer);
    });
  }

  /**
   * Hashes and fingerprints a chunk; the caller then seals (new content) or drops (known content) it. A pooled
   * chunk buffer goes back to its pool when the worker is done with it.
   */
  async hash(chunk: Chunk): Promise<HashedChunk> {
    const w = chunk.pooled === undefined ? undefined : this.pick();
    if (w === undefined || chunk.pooled === undefined) {
      const fingerprint = chunkFingerprint(this.keys, chunk.data);
      const id = blobId(this.keys, chunk.data);
      const done = () => {
        if (chunk.pooled !== undefined) this.chunks.give(chunk.pooled);
      };
      return {
        id,
        fingerprint,
        seal: async () => {
          const record = sealBlob(this.keys, id, chunk.data, this.compress);
          done();
          return { record, release: () => {} };
        },
        drop: async () => done(),
      };
    }
    const seq = ++this.seq;
    const buffer = chunk.pooled.buffer as ArrayBuffer;
    let reply: WorkerReply;
    try {
      reply = await this.call(w, { op: "hash", seq, buffer, length: chunk.data.length }, [buffer]);
    } catch (err) {
      this.chunks.give();
      throw err;
    }
    if (!("fingerprint" in reply)) throw new Error("seal worker answered a hash with something else");
    const fingerprint = Buffer.from(reply.fingerprint);
    const id = Buffer.from(reply.id);
    const finish = async (op: "seal" | "drop") => {
      try {
        const answer = await this.call(w, { op, seq });
        // A record sealed in place still holds the chunk buffer: it goes back to the pool on release.
        if ("chunk" in answer) this.chunks.give(answer.chunk);
        else if (!("inPlace" in answer)) this.chunks.give();
        return answer;
      } catch (err) {
        this.chunks.give();
        throw err;
      }
    };
    return {
      id,
      fingerprint,
      seal: async () => {
        const sealed = await finish("seal");
        if ("inPlace" in sealed) {
          let held = true;
          return {
            record: Buffer.from(sealed.inPlace, 0, sealed.recordLength),
            release: () => {
              if (held) this.chunks.give(sealed.inPlace);
              held = false;
            },
          };
        }
        if (!("record" in sealed)) throw new Error("seal worker answered a seal with something else");
        const record = Buffer.from(sealed.record, 0, sealed.recordLength);
        return {
          record,
          release: () => {
            if (!this.closed) w.worker.postMessage({ op: "recycle", buffer: sealed.record }, [sealed.record]);
          },
        };
      },
      drop: async () => {
        await finish("drop");
      },
    };
  }

  /** Seals a metadata blob on the calling thread (they are small) and returns its id and record. */
  sealInline(data: Uint8Array): { id: Buffer; record: Buffer } {
    const id = blobId(this.keys, data);
    return { id, record: sealBlob(this.keys, id, data) };
  }

  async open(id: Buffer, record: Uint8Array): Promise<Buffer> {
    const w = record.length < INLINE_BELOW ? undefined : this.pick();
    if (w === undefined) return openBlob(this.keys, id, record);
    const seq = ++this.seq;
    // A record read for this call owns its memory and moves to the worker; a view into a shared buffer (a cached
    // pack, a pack still uploading) is copied first.
    const owned =
      record.byteOffset === 0 && record.byteLength === record.buffer.byteLength && record.buffer instanceof ArrayBuffer;
    const sent = owned ? record : Uint8Array.prototype.slice.call(record);
    // The id as a copy of its own: a view into Buffer's shared pool would send the whole 8 KiB pool slab along.
    const reply = await this.call(w, { op: "open", seq, id: new Uint8Array(id), record: sent }, [
      sent.buffer as ArrayBuffer,
    ]);
    if (!("plain" in reply)) throw new Error("seal worker answered an open with something else");
    return Buffer.from(reply.plain.buffer, reply.plain.byteOffset, reply.plain.byteLength);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
