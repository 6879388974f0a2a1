/**
 * Writes a stream of bytes into an open file, optionally leaving holes where whole aligned blocks are zero.
 * Holes are made by not writing and then setting the final length with ftruncate; the file must start empty.
 */
import { ftruncateSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { writeFully } from "../objectstore/direct-writer.ts";
import type { ObjectWriter } from "../objectstore/types.ts";
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

export async function writeStream(
  handle: FileHandle,
  chunks: AsyncIterable<Uint8Array>,
  options: StreamWriterOptions,
): Promise<WriteResult> {
  let position = 0;
  let bytesWritten = 0;
  // Bytes of a block that is not complete yet (the stream's chunks need not be block aligned).
  let carry: Buffer | undefined;
  const writeAll = async (data: Uint8Array, at: number) => {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten: n } = await handle.write(data, done, data.length - done, at + done);
      done += n;
    }
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
  if (options.sparse) await handle.truncate(position);
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
  handle: FileHandle,
  data: Uint8Array,
  position: number,
  sparse: boolean,
): Promise<number> {
  if (!sparse) {
    await writeFully(handle, data, position);
    return data.length;
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  let written = 0;
  for (const [start, end] of dataRuns(bytes, position)) {
    await writeFully(handle, bytes.subarray(start, end), position + start);
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
  handle: FileHandle,
  options: StreamWriterOptions,
): Promise<WriteResult> {
  if (repo.readObjectInto === undefined) return writeStream(handle, repo.readObject(ref), options);
  let bytesWritten = 0;
  await repo.readObjectInto(
    ref,
    async (data, offset) => {
      options.signal?.throwIfAborted();
      const written = await writeAt(handle, data, offset, options.sparse);
      // Not `+= await`: writes run concurrently, and that would read the counter before the wait.
      bytesWritten += written;
      options.onBytes?.(data.length);
    },
    options.signal,
  );
  if (options.sparse) await handle.truncate(ref.size);
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

/**
 * writeObject into a file opened for direct writes (objectstore/direct-writer.ts; never sparse): the writer
 * gathers the pieces, in whatever order they come, into aligned blocks. The caller flushes it.
 */
export async function writeObjectDirect(
  repo: Repository,
  ref: ObjectRef,
  file: Pick<ObjectWriter, "writeAt">,
  options: Omit<StreamWriterOptions, "sparse">,
): Promise<WriteResult> {
  if (repo.readObjectInto === undefined) {
    let position = 0;
    for await (const chunk of repo.readObject(ref)) {
      options.signal?.throwIfAborted();
      await file.writeAt(chunk, position);
      position += chunk.length;
      options.onBytes?.(chunk.length);
    }
    return { size: position, bytesWritten: position };
  }
  await repo.readObjectInto(
    ref,
    async (data, offset) => {
      options.signal?.throwIfAborted();
      await file.writeAt(data, offset);
      options.onBytes?.(data.length);
    },
    options.signal,
  );
  return { size: ref.size, bytesWritten: ref.size };
}
