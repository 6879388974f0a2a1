/**
 * Writes a stream of bytes into an open file, optionally leaving holes where whole aligned blocks are zero.
 * Holes are made by not writing and then setting the final length with ftruncate; the file must start empty.
 */
import { ftruncateSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { writeFully } from "../objectstore/direct-writer.ts";
import type { ObjectRef, Repository } from "../repository/types.ts";

/** Page-sized, so a hole never splits a file system block on common file systems. */
export const sparseBlockSize = 4096;
const zeroBlock = Buffer.alloc(sparseBlockSize);

export interface WriteResult {
  /** Logical length of the file. */
  size: number;
  /** Bytes actually written (the rest are holes). */
  bytesWritten: number;
}

export interface StreamWriterOptions {
  sparse: boolean;
  signal?: AbortSignal | undefined;
  onBytes?: ((bytes: number) => void) | undefined;
}

/**
 * Where the bytes go: an open file (fileTarget), or a writer that gathers them itself, such as the direct writer
 * of objectstore/direct-writer.ts (which sets the file's length on its own, so it cannot take sparse writes).
 */
export interface FileTarget {
  /** Writes all of `data` at `position`. */
  writeAt(data: Uint8Array, position: number): Promise<void>;
  /** Sets the file's final length (only sparse writes need it). */
  truncate?(length: number): Promise<void>;
}

export function fileTarget(handle: FileHandle): FileTarget {
  return {
    writeAt: (data, position) => writeFully(handle, data, position),
    truncate: (length) => handle.truncate(length),
  };
}

function setLength(target: FileTarget, length: number): Promise<void> {
  if (target.truncate === undefined) throw new Error("a sparse file needs a target that can set its length");
  return target.truncate(length);
}

export async function writeStream(
  target: FileTarget,
  chunks: AsyncIterable<Uint8Array>,
  options: StreamWriterOptions,
): Promise<WriteResult> {
  let position = 0;
  let bytesWritten = 0;
  // Bytes of a block that is not complete yet (the stream's chunks need not be block aligned).
  let carry: Buffer | undefined;
  const writeAll = async (data: Uint8Array, at: number) => {
    await target.writeAt(data, at);
    bytesWritten += data.length;
  };
  for await (const chunk of chunks) {
    options.signal?.throwIfAborted();
    if (!options.sparse) {
      await writeAll(chunk, position);
      position += chunk.length;
      options.onBytes?.(chunk.length);
      continue;
    }
    const data =
      carry === undefined ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.concat([carry, chunk]);
    const whole = data.length - (data.length % sparseBlockSize);
    await writeDataRuns(data.subarray(0, whole), position, writeAll);
    position += whole;
    carry = whole < data.length ? Buffer.from(data.subarray(whole)) : undefined;
    options.onBytes?.(chunk.length);
  }
  if (carry !== undefined) {
    // A short last block is written unless it is all zero (the truncate below extends the file with zeros).
    if (!isZero(carry)) await writeAll(carry, position);
    position += carry.length;
  }
  if (options.sparse) await setLength(target, position);
  return { size: position, bytesWritten };
}

/** Writes the non-zero blocks of `data` (a whole number of blocks at `offset`), coalescing neighbours. */
async function writeDataRuns(
  data: Buffer,
  offset: number,
  writeAll: (data: Uint8Array, at: number) => Promise<void>,
): Promise<void> {
  for (const [start, end] of dataRuns(data)) await writeAll(data.subarray(start, end), offset + start);
}

/**
 * The [start, end) ranges of `data` to write when zero blocks become holes: every block that is not all zero,
 * neighbours merged. Blocks are the file's: `data` goes at file offset `position`, so its first and last pieces
 * may be parts of blocks; a piece is data unless it is all zero (the rest of its block is written by whoever
 * holds it, or stays zero).
 */
export function dataRuns(data: Buffer, position = 0): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let runStart = -1;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + sparseBlockSize - ((position + i) % sparseBlockSize), data.length);
    const zero = zeroBlock.subarray(0, end - i).equals(data.subarray(i, end));
    if (!zero && runStart < 0) runStart = i;
    if (zero && runStart >= 0) {
      runs.push([runStart, i]);
      runStart = -1;
    }
    i = end;
  }
  if (runStart >= 0) runs.push([runStart, data.length]);
  return runs;
}

/** Writes `data` at file offset `position`, leaving out all-zero blocks when `sparse`; returns the bytes written. */
export async function writeAt(
  target: FileTarget,
  data: Uint8Array,
  position: number,
  sparse: boolean,
): Promise<number> {
  if (!sparse) {
    await target.writeAt(data, position);
    return data.length;
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  let written = 0;
  for (const [start, end] of dataRuns(bytes, position)) {
    await target.writeAt(bytes.subarray(start, end), position + start);
    written += end - start;
  }
  return written;
}

/**
 * Writes an object into an open file that starts empty (or a device): through the repository's reused buffers,
 * several pieces at once, where it offers that (readObjectInto), as a stream otherwise. Sparse files get their
 * length at the end, so trailing holes count.
 */
export async function writeObject(
  repo: Repository,
  ref: ObjectRef,
  target: FileTarget,
  options: StreamWriterOptions,
): Promise<WriteResult> {
  if (repo.readObjectInto === undefined) return writeStream(target, repo.readObject(ref), options);
  let bytesWritten = 0;
  await repo.readObjectInto(
    ref,
    async (data, offset) => {
      options.signal?.throwIfAborted();
      const written = await writeAt(target, data, offset, options.sparse);
      // Not `+= await`: writes run concurrently, and that would read the counter before the wait.
      bytesWritten += written;
      options.onBytes?.(data.length);
    },
    options.signal,
  );
  if (options.sparse) await setLength(target, ref.size);
  return { size: ref.size, bytesWritten };
}

/** Writes a whole file's bytes at once to a new, empty file (the small-file path of restore). */
export function writeBytesSync(fd: number, data: Buffer, sparse: boolean): number {
  const writeAt = (start: number, end: number) => {
    let done = start;
    while (done < end) done += writeSync(fd, data, done, end - done, done);
  };
  if (!sparse) {
    writeAt(0, data.length);
    return data.length;
  }
  let written = 0;
  for (const [start, end] of dataRuns(data)) {
    writeAt(start, end);
    written += end - start;
  }
  ftruncateSync(fd, data.length);
  return written;
}

function isZero(data: Buffer): boolean {
  return data.length <= sparseBlockSize && zeroBlock.subarray(0, data.length).equals(data);
}
