/**
 * Reading (and, for a repository that takes sealed records, hashing and encrypting) the small files of a backup.
 * A reader thread does most of it; when that thread falls behind, the main thread takes files itself, so the two
 * cores share the per-file work whichever side is slower on the machine at hand.
 */
import type { ObjectSealer } from "../repository/sealed-objects.ts";
import { objectSealer, sealedBytes } from "../repository/sealed-objects.ts";
import type { Repository, SealedObjectSink } from "../repository/types.ts";
import { BatchWorkerPool, JobError } from "./batch-worker-pool.ts";
import type { ReaderJob, ReaderResult, SealedFile } from "./file-reader-worker.ts";
import { readSmallFile } from "./source-reader.ts";

/**
 * With --parallel 3 or more, the main thread seals a file itself while more than this many are waiting for the
 * reader: a backlog that size keeps the reader busy for a while, and the main thread has time to spare then.
 * With fewer (two cores by default) it never does: there the main thread's own share (walk, index, packs) keeps
 * it busy enough, and taking files as well made the two threads' file system calls slow each other down.
 */
const backlogForMainThread = 72;

export class SmallFileReader {
  readonly sink: SealedObjectSink | undefined;
  readonly #pool: BatchWorkerPool<ReaderJob, ReaderResult>;
  /** Files still to be stored from each shared record buffer; the last one sends the buffer back to the reader. */
  readonly #sharesLeft = new Map<ArrayBuffer, number>();
  #sealer: ObjectSealer | undefined;
  #scratch: Buffer | undefined;

  /**
   * One reader thread: with the main thread (walk, index, packs, and files it takes over) it keeps two cores busy;
   * a second one measured no faster on two cores and cost 25-50 MB more.
   */
  readonly #mainThreadTakes: boolean;

  constructor(repo: Repository, options: { parallelFiles: number }) {
    this.sink = repo.sealedObjects?.();
    this.#mainThreadTakes = options.parallelFiles >= 3;
    const script = new URL("./file-reader-worker.ts", import.meta.url);
    this.#pool = new BatchWorkerPool(script, 1, "read", this.sink?.sealing);
  }

  /**
   * The file's bytes, or with a sink its sealed record (a SealedFile; release() it once stored). Rejects with a
   * JobError when the file cannot be read.
   */
  read(job: { path: string; expectedSize: number }, what: string): Promise<Uint8Array | SealedFile> {
    const sink = this.sink;
    if (sink === undefined) return this.#pool.run({ kind: "read", ...job }, what) as Promise<Uint8Array>;
    if (
      this.#mainThreadTakes &&
      this.#pool.pendingJobs > backlogForMainThread &&
      job.expectedSize <= sink.maxObjectBytes
    ) {
      // In a later turn of the event loop: the reader's answers must get their turn in between.
      return new Promise((resolve, reject) => {
        setImmediate(() => {
          try {
            resolve(this.#sealHere(sink, job.path, job.expectedSize, what));
          } catch (err) {
            reject(err);
          }
        });
      });
    }
    return this.#pool.run({ kind: "seal", ...job, maxBytes: sink.maxObjectBytes }, what) as Promise<
      Uint8Array | SealedFile
    >;
  }

  /** Hands back a sealed file's buffer once its record is stored (or given up). */
  release(file: SealedFile): void {
    if (file.shares === 0) return;
    const left = (this.#sharesLeft.get(file.buffer) ?? file.shares) - 1;
    if (left > 0) this.#sharesLeft.set(file.buffer, left);
    else {
      this.#sharesLeft.delete(file.buffer);
      this.#pool.give(file.buffer);
    }
  }

  /** Stops the reader thread. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  #sealHere(sink: SealedObjectSink, path: string, expectedSize: number, what: string): Uint8Array | SealedFile {
    if (this.#scratch === undefined || this.#scratch.length <= expectedSize) {
      this.#scratch = Buffer.allocUnsafeSlow(Math.max(64 << 10, expectedSize + 1));
    }
    let data: Uint8Array;
    try {
      data = readSmallFile(path, expectedSize, this.#scratch);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const result = { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) };
      throw new JobError(`cannot read '${what}': ${result.message}`, result);
    }
    // Grew past a single chunk: the bytes go to the repository's chunker (a copy, the scratch buffer is reused).
    if (data.length > sink.maxObjectBytes) return Uint8Array.prototype.slice.call(data);
    this.#sealer ??= objectSealer(sink.sealing);
    // A buffer of its own: the record is read after this returns, while the next file is read into the scratch.
    const target = Buffer.allocUnsafe(sealedBytes(data.length));
    const length = this.#sealer.sealInto(data, target, 0);
    return { size: data.length, buffer: target.buffer as ArrayBuffer, at: target.byteOffset, length, shares: 0 };
  }
}
