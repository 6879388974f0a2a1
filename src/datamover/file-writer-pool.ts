/**
 * Writer threads that create small restored files (see file-writer-worker.ts). Files are sent in batches: one
 * message per batch instead of several thread-pool round trips per file, and every file's bytes copied into one
 * buffer that moves to the thread and comes back to be reused, so the bytes are neither cloned nor left for the
 * garbage collector. Threads start with the first file: a restore of large files only never pays for them.
 */
import { Worker } from "node:worker_threads";
import type {
  FileInBatch,
  FileResult,
  SmallFile,
  WriterBatch,
  WriterReply,
  WriterSetup,
} from "./file-writer-worker.ts";

export type { SmallFile } from "./file-writer-worker.ts";

/** A file's bytes: the plaintext, or its sealed record with the blob id (opened by the thread). */
export type SmallFileContent = { data: Uint8Array } | { id: Uint8Array; record: Uint8Array };

/** Bytes of a blob id, before a sealed record in the batch buffer. */
export const ID_BYTES = 16;
/** A batch is sent at this many files, when its buffer is full, or when the main thread has nothing else to do. */
const MAX_FILES = 32;
const BATCH_BYTES = 1 << 20;
/**
 * Batch buffers kept for reuse: as many as batches can be in flight (a restore queues up to 128 small files,
 * four batches) plus the one being filled.
 */
const KEPT_BUFFERS = 6;
/** The threads hold little besides the batch in hand: small heap limits keep each to a few MB. */
const resourceLimits = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 48 };

interface Pending {
  path: string;
  resolve: (written: number) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  batches: number;
}

/** The batch being filled: its files so far and the buffer their bytes were copied into. */
interface OpenBatch {
  files: FileInBatch[];
  pending: Pending[];
  buffer: ArrayBuffer;
  view: Uint8Array;
  used: number;
}

export class SmallFileWriterPool {
  readonly #size: number;
  readonly #setup: WriterSetup;
  #threads: Thread[] | undefined;
  readonly #sent = new Map<number, { thread: Thread; pending: Pending[] }>();
  #open: OpenBatch | undefined;
  #flushScheduled = false;
  #nextBatch = 0;
  readonly #freeBuffers: ArrayBuffer[] = [];
  #failure: Error | undefined;
  #closing = false;

  constructor(size: number, setup: WriterSetup) {
    this.#size = size;
    this.#setup = setup;
  }

  /**
   * Creates the file; resolves to the bytes written (fewer than its size when holes were left). The content is
   * copied before this returns, so it may be a view of a buffer the caller reuses.
   */
  write(file: SmallFile, content: SmallFileContent): Promise<number> {
    if (this.#failure) return Promise.reject(this.#failure);
    const bytes = "data" in content ? content.data : content.record;
    const id = "id" in content ? content.id : undefined;
    if (id !== undefined && id.length !== ID_BYTES) return Promise.reject(new Error("blob ids are 16 bytes"));
    const length = bytes.length + (id === undefined ? 0 : ID_BYTES);
    if (this.#open !== undefined && this.#open.used + length > this.#open.view.length) this.#flush();
    this.#open ??= this.#newBatch(length);
    const batch = this.#open;
    // The id goes in the buffer too: a small Buffer is often a view of Node's shared 8 KiB pool, and posting it
    // would clone the whole pool.
    const at = batch.used;
    if (id !== undefined) batch.view.set(id, at);
    batch.view.set(bytes, at + length - bytes.length);
    batch.used += length;
    batch.files.push({ ...file, at, length, sealed: id !== undefined });
    const written = new Promise<number>((resolve, reject) => {
      batch.pending.push({ path: file.path, resolve, reject });
    });
    if (batch.files.length >= MAX_FILES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
    return written;
  }

  async close(): Promise<void> {
    this.#closing = true;
    // Files still being batched (a cancelled restore) fail rather than wait for threads that are gone.
    this.#fail(new Error("the writer threads were closed"));
    const threads = this.#threads ?? [];
    this.#threads = [];
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #start(): Thread[] {
    const threads: Thread[] = [];
    for (let i = 0; i < this.#size; i++) {
      const worker = new Worker(new URL("./file-writer-worker.ts", import.meta.url), {
        resourceLimits,
        workerData: this.#setup,
      });
      const thread = { worker, batches: 0 };
      worker.on("message", (reply: WriterReply) => this.#settle(reply));
      worker.on("error", (err) => this.#fail(err));
      worker.on("exit", (code) => {
        if (!this.#closing) this.#fail(new Error(`exited with code ${code}`));
      });
      threads.push(thread);
    }
    return threads;
  }

  #newBatch(atLeast: number): OpenBatch {
    const reused = atLeast <= BATCH_BYTES ? this.#freeBuffers.pop() : undefined;
    const buffer = reused ?? new ArrayBuffer(Math.max(atLeast, BATCH_BYTES));
    return { files: [], pending: [], buffer, view: new Uint8Array(buffer), used: 0 };
  }

  #flush(): void {
    const batch = this.#open;
    if (batch === undefined) return;
    this.#open = undefined;
    if (this.#failure !== undefined) {
      for (const p of batch.pending) p.reject(this.#failure);
      return;
    }
    this.#threads ??= this.#start();
    let thread = this.#threads[0]!;
    for (const t of this.#threads) if (t.batches < thread.batches) thread = t;
    thread.batches++;
    const id = this.#nextBatch++;
    this.#sent.set(id, { thread, pending: batch.pending });
    const message: WriterBatch = { batch: id, files: batch.files, buffer: batch.buffer };
    thread.worker.postMessage(message, [batch.buffer]);
  }

  #settle({ batch, results, buffer }: WriterReply): void {
    const sent = this.#sent.get(batch);
    if (sent === undefined) return;
    this.#sent.delete(batch);
    sent.thread.batches--;
    // Kept for the next batches; one not kept is freed now rather than left to the garbage collector (which
    // external memory triggers only every 64 MB or so).
    if (buffer.byteLength === BATCH_BYTES && this.#freeBuffers.length < KEPT_BUFFERS) this.#freeBuffers.push(buffer);
    else buffer.transfer(0);
    for (const [i, p] of sent.pending.entries()) settleFile(p, results[i]);
  }

  /** A thread died: every file not done yet fails (those still being batched too), and so does any later one. */
  #fail(err: Error): void {
    this.#failure ??= new Error("a restore writer thread failed", { cause: err });
    for (const sent of this.#sent.values()) for (const p of sent.pending) p.reject(this.#failure);
    this.#sent.clear();
    for (const p of this.#open?.pending ?? []) p.reject(this.#failure);
    this.#open = undefined;
  }
}

function settleFile(p: Pending, result: FileResult | undefined): void {
  if (typeof result === "number") {
    p.resolve(result);
    return;
  }
  const reason = result ?? { message: "no result" };
  const err = new Error(`cannot restore '${p.path}': ${reason.message}`) as NodeJS.ErrnoException;
  if (reason.code !== undefined) err.code = reason.code;
  p.reject(err);
}
