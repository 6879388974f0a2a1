/**
 * Reads a source file as a stream of chunks for Repository.writeObject, counting the bytes read. A read failure is
 * wrapped in SourceReadError so the walker can tell "this file is unreadable" (counted, the backup goes on) from
 * a repository failure (fatal).
 */
import { closeSync, constants, open as openCallback, openSync, readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { Socket } from "node:net";
import { addAbortSignal } from "node:stream";
import { promisify } from "node:util";
import { untilAborted } from "../abort.ts";

const openFd = promisify(openCallback);

/** Large reads keep syscalls few; the repository chunks the stream itself. */
const readSize = 1 << 20;

export class SourceReadError extends Error {
  readonly path: string;
  constructor(path: string, cause: unknown) {
    super(`cannot read '${path}': ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "SourceReadError";
    this.path = path;
  }
}

/** Finds a SourceReadError in an error's cause chain (writers may wrap what the source threw). */
export function findSourceReadError(err: unknown): SourceReadError | undefined {
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof SourceReadError) return current;
    current = current.cause;
  }
  return undefined;
}

export interface ReadCounter {
  /** Called after every successful read with the number of bytes it returned. */
  onBytes(bytes: number): void;
}

/**
 * Yields the file's bytes until end of file. `expectedSize` only sizes the first buffer: a file that grows or
 * shrinks while it is read is read as it is. On Linux a short read of a regular file or block device means end
 * of file, which saves the final zero-length read; a pipe (`isStream`) may return less at any time.
 *
 * A file (not a stream) is read one piece ahead: the next read runs in the thread pool while the caller chunks
 * the piece just yielded. Without it the main thread sat idle for each read (measured on a 2 GiB backup: the
 * two files being read waited 1.7 s each for their reads, in a 3.3 s run).
 */
export async function* readChunks(
  handle: FileHandle,
  path: string,
  expectedSize: number,
  counter: ReadCounter,
  signal?: AbortSignal,
  isStream = false,
): AsyncGenerator<Uint8Array> {
  // Two read buffers take turns instead of a fresh megabyte per read, which would pile up as garbage faster
  // than the collector frees it. The caller is done with a piece once it asks for the next one (the repository
  // copies it into its chunker), so the read ahead goes into the buffer of the piece before.
  const buffers: Buffer[] = [];
  let turn = 0;
  const bufferFor = (wanted: number): Buffer => {
    if (wanted < readSize) return Buffer.allocUnsafe(wanted);
    if (buffers.length < 2) buffers.push(Buffer.allocUnsafeSlow(readSize));
    return buffers[turn++ % 2]!;
  };
  const startRead = (position: number, wanted: number) => {
    const buffer = bufferFor(wanted);
    const read = handle.read(buffer, 0, wanted, isStream ? null : position);
    // Settled here too, so a read ahead that the caller never asks for cannot be an unhandled rejection.
    read.catch(() => {});
    return { buffer, wanted, read };
  };
  let position = 0;
  let next = startRead(0, expectedSize < readSize ? expectedSize + 1 : readSize);
  for (;;) {
    signal?.throwIfAborted();
    const { buffer, wanted, read } = next;
    let bytesRead: number;
    try {
      // A read of a pipe or a stalled device may not return for a long time; cancellation must not wait for it.
      ({ bytesRead } = await untilAborted(read, signal));
    } catch (err) {
      throw new SourceReadError(path, err);
    }
    if (bytesRead === 0) return;
    position += bytesRead;
    counter.onBytes(bytesRead);
    const last = bytesRead < wanted && !isStream;
    if (!last && !isStream) next = startRead(position, readSize);
    yield bytesRead === wanted ? buffer : buffer.subarray(0, bytesRead);
    if (last) return;
    if (isStream) next = startRead(position, readSize);
  }
}

/**
 * Reads a named pipe to its end through the event loop (epoll) rather than the thread pool: a thread-pool read
 * blocked on an idle pipe cannot be cancelled and would even hold up the process's exit.
 */
export async function* readPipe(path: string, counter: ReadCounter, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let fd: number;
  try {
    // Opening waits for a writer; libuv then switches the descriptor to non-blocking mode.
    fd = await openFd(path, "r");
  } catch (err) {
    throw new SourceReadError(path, err);
  }
  const socket = new Socket({ fd, readable: true, writable: false });
  if (signal !== undefined) addAbortSignal(signal, socket);
  try {
    for await (const chunk of socket) {
      const bytes = chunk as Buffer;
      counter.onBytes(bytes.length);
      yield bytes;
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new SourceReadError(path, err);
  } finally {
    socket.destroy();
  }
  signal?.throwIfAborted();
}

/**
 * A file swapped for a pipe or symlink between lstat and open must neither block (O_NONBLOCK makes opening a
 * pipe return at once; it changes nothing for regular files) nor lead outside the volume (O_NOFOLLOW).
 */
export const sourceOpenFlags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/**
 * Reads a whole small file; reads on past the expected size when it grew meanwhile (and stops early when it
 * shrank), so what is stored is what was there. The buffer has room for one byte more than expected, so an
 * unchanged file takes one read. It is never from Node's shared pool, so it can be moved; or it is `scratch`
 * (when that has room), for a caller that is done with the bytes before the next read.
 */
export function readSmallFile(path: string, expectedSize: number, scratch?: Buffer): Uint8Array {
  const fd = openSync(path, sourceOpenFlags);
  try {
    let buffer =
      scratch !== undefined && scratch.length > expectedSize ? scratch : Buffer.allocUnsafeSlow(expectedSize + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafeSlow(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const wanted = buffer.length - length;
      const n = readSync(fd, buffer, length, wanted, length);
      length += n;
      // A short read is the end of a regular file (see readChunks): no second read to see zero bytes.
      if (n < wanted) break;
    }
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } finally {
    closeSync(fd);
  }
}
