/**
 * Runs the hot path (hash, compress, encrypt; decrypt, decompress on reads) on a pool of worker threads, one
 * per core by default. Small blobs are handled on the calling thread: for them a round trip to a worker costs
 * more than the work. With zero workers everything runs inline (tests, tiny machines).
 */
import { Worker } from "node:worker_threads";
import { blobId, IntegrityError, openBlob, type RepositoryKeys, sealBlob } from "./crypto.ts";
import type { WorkerReply, WorkerRequest } from "./seal-worker.ts";

/** Below this size a blob is hashed and sealed on the calling thread. */
const INLINE_BELOW = 64 * 1024;

export interface HashedChunk {
  id: Buffer;
  /** Seals the chunk held for this hash (exactly one of seal/drop must be called). */
  seal(): Promise<Buffer>;
  drop(): void;
}

interface Pending {
  resolve(reply: WorkerReply): void;
  reject(err: Error): void;
}

interface PooledWorker {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

export class SealPool {
  private readonly keys: RepositoryKeys;
  private readonly workers: PooledWorker[] = [];
  private seq = 0;
  private closed = false;

  constructor(keys: RepositoryKeys, master: Buffer, workerCount: number) {
    this.keys = keys;
    for (let i = 0; i < workerCount; i++) {
      const worker = new Worker(new URL("./seal-worker.ts", import.meta.url), { workerData: { master } });
      const pooled: PooledWorker = { worker, busy: 0, pending: new Map() };
      worker.on("message", (reply: WorkerReply) => {
        const p = pooled.pending.get(reply.seq);
        if (p === undefined) return;
        pooled.pending.delete(reply.seq);
        pooled.busy--;
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

  private failAll(pooled: PooledWorker, err: Error): void {
    for (const p of pooled.pending.values()) p.reject(err);
    pooled.pending.clear();
  }

  private pick(): PooledWorker | undefined {
    let best: PooledWorker | undefined;
    for (const w of this.workers) if (best === undefined || w.busy < best.busy) best = w;
    return best;
  }

  private call(w: PooledWorker, msg: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      w.pending.set(msg.seq, { resolve, reject });
      w.busy++;
      w.worker.ref();
      w.worker.postMessage(msg, transfer);
    });
  }

  /** Hashes a chunk; the caller then seals (new content) or drops (known content) it. Takes ownership of data. */
  async hash(data: Uint8Array): Promise<HashedChunk> {
    const w = data.length < INLINE_BELOW ? undefined : this.pick();
    if (w === undefined) {
      const id = blobId(this.keys, data);
      return { id, seal: async () => sealBlob(this.keys, id, data), drop: () => {} };
    }
    const owned =
      data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer
        ? data
        : Uint8Array.prototype.slice.call(data);
    const seq = ++this.seq;
    const reply = await this.call(w, { op: "hash", seq, data: owned }, [owned.buffer as ArrayBuffer]);
    if (!("id" in reply)) throw new Error("seal worker answered a hash with something else");
    const id = Buffer.from(reply.id);
    return {
      id,
      seal: async () => {
        const sealed = await this.call(w, { op: "seal", seq });
        if (!("record" in sealed)) throw new Error("seal worker answered a seal with something else");
        return Buffer.from(sealed.record.buffer, sealed.record.byteOffset, sealed.record.byteLength);
      },
      drop: () => w.worker.postMessage({ op: "drop", seq } satisfies WorkerRequest),
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
    const copy = Uint8Array.prototype.slice.call(record);
    const reply = await this.call(w, { op: "open", seq, id, record: copy }, [copy.buffer as ArrayBuffer]);
    if (!("plain" in reply)) throw new Error("seal worker answered an open with something else");
    return Buffer.from(reply.plain.buffer, reply.plain.byteOffset, reply.plain.byteLength);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
