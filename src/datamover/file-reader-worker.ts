/**
 * Worker thread body that reads small source files whole with synchronous calls (the bytes are moved, not
 * copied, to the main thread). Given the repository's sealing (workerData), it also hashes and encrypts each file
 * here, so the main thread only has to index and pack the record.
 */
import { workerData } from "node:worker_threads";
import { type ObjectSealer, type ObjectSealing, objectSealer, sealedBytes } from "../repository/sealed-objects.ts";
import { serveBatches } from "./batch-worker-pool.ts";
import { readSmallFile } from "./source-reader.ts";

/**
 * Read one small file whole, or read and seal it as one object (when it still fits `maxBytes`, otherwise its
 * bytes come back as with "read").
 */
export type ReaderJob =
  | { kind: "read"; path: string; expectedSize: number }
  | { kind: "seal"; path: string; expectedSize: number; maxBytes: number };

/**
 * A sealed file: its plain size and where ObjectSealer.sealInto wrote it (see splitSealed). The records of
 * `shares` files share the buffer; once all are stored it can go back to a reader (BatchWorkerPool.give). 0: a
 * buffer of the main thread's own, not shared.
 */
export interface SealedFile {
  size: number;
  buffer: ArrayBuffer;
  at: number;
  length: number;
  shares: number;
}

export type ReaderResult = Uint8Array | SealedFile;

const sealing = workerData as ObjectSealing | undefined;
let sealer: ObjectSealer | undefined;

/**
 * The records of one batch share buffers of this size: one move per batch instead of one per file, and the
 * buffers come back for reuse, so memory does not wait for the main thread's collector to free them.
 */
const arenaBytes = 120 << 10;
/** Buffers given back, at most this many kept. */
const keptArenas = 16;
const freeArenas: ArrayBuffer[] = [];
let arena: Buffer | undefined;
let arenaUsed = 0;
/** The files sealed into the current arena (their `shares` are set once it is full or the batch ends). */
let arenaFiles: SealedFile[] = [];
/** Each file is read into this and sealed before the next one is read. */
let scratch = Buffer.allocUnsafeSlow(arenaBytes);

function closeArena(): void {
  for (const file of arenaFiles) file.shares = arenaFiles.length;
  arenaFiles = [];
  arena = undefined;
}

function seal(path: string, expectedSize: number, maxBytes: number): { value: ReaderResult; transfer: ArrayBuffer[] } {
  if (scratch.length <= expectedSize) scratch = Buffer.allocUnsafeSlow(expectedSize + 1);
  const data = readSmallFile(path, expectedSize, scratch);
  if (data.length > maxBytes) {
    // Grew past a single chunk: the bytes go back for the repository's chunker.
    const own = Uint8Array.prototype.slice.call(data);
    return { value: own, transfer: [own.buffer as ArrayBuffer] };
  }
  if (sealing === undefined) throw new Error("this reader has no repository sealing");
  sealer ??= objectSealer(sealing);
  const room = sealedBytes(data.length);
  if (arena !== undefined && arenaUsed + room > arena.length) closeArena();
  if (arena === undefined) {
    const reused = room <= arenaBytes ? freeArenas.pop() : undefined;
    arena = reused !== undefined ? Buffer.from(reused) : Buffer.allocUnsafeSlow(Math.max(arenaBytes, room));
    arenaUsed = 0;
  }
  const at = arenaUsed;
  const length = sealer.sealInto(data, arena, at);
  arenaUsed += length;
  const file: SealedFile = { size: data.length, buffer: arena.buffer as ArrayBuffer, at, length, shares: 0 };
  arenaFiles.push(file);
  return { value: file, transfer: [file.buffer] };
}

serveBatches<ReaderJob, ReaderResult>(
  (job) => {
    if (job.kind === "seal") return seal(job.path, job.expectedSize, job.maxBytes);
    const data = readSmallFile(job.path, job.expectedSize);
    return { value: data, transfer: [data.buffer as ArrayBuffer] };
  },
  {
    // The arena moves to the main thread with the batch's answer.
    endBatch: closeArena,
    receive(buffer) {
      if (buffer.byteLength === arenaBytes && freeArenas.length < keptArenas) freeArenas.push(buffer);
    },
  },
);
