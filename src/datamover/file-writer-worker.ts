/**
 * Worker thread body that creates small restored files. A batch comes with one buffer holding every file's bytes:
 * plaintext, or the sealed record, which is opened here (so decryption runs beside the file system work, not on
 * the main thread). Each file is made with synchronous calls (create under the temporary name, write, chown,
 * chmod, utimes, close, rename into place), which cost microseconds each here. The buffer goes back for reuse.
 */
import { closeSync, fchmodSync, fchownSync, futimesSync, lstatSync, openSync, renameSync, rmSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { openBlob, type RepositoryKeys, splitMasterKey } from "../repository/crypto.ts";
import { ID_BYTES } from "./file-writer-pool.ts";
import { writeBytesSync } from "./sparse-writer.ts";

/** The same for every file of a restore. */
export interface WriterSetup {
  /** The repository's master key, when files come as sealed records. Secret: only for threads of this process. */
  master: Uint8Array | undefined;
  chown: boolean;
  sparse: boolean;
  overwrite: boolean;
}

export interface SmallFile {
  temporary: string;
  path: string;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, as utimes takes them. */
  mtime: number;
  /** The size the file must have. */
  size: number;
}

export interface FileInBatch extends SmallFile {
  /** Where its bytes are in the batch buffer. */
  at: number;
  length: number;
  /** Whether the bytes are the blob id and then its sealed record (else they are the plaintext). */
  sealed: boolean;
}

export interface WriterBatch {
  batch: number;
  files: FileInBatch[];
  buffer: ArrayBuffer;
}

/** Bytes written per file (fewer than its size when holes were left), or why it failed. */
export type FileResult = number | { message: string; code?: string };

export interface WriterReply {
  batch: number;
  results: FileResult[];
  buffer: ArrayBuffer;
}

export function writeSmallFileSync(file: SmallFile, data: Buffer, setup: WriterSetup): number {
  if (data.length !== file.size) throw new Error(`restored ${data.length} bytes, expected ${file.size}`);
  const fd = openSync(file.temporary, "wx", 0o600);
  let closed = false;
  let renamed = false;
  try {
    const written = writeBytesSync(fd, data, setup.sparse);
    if (setup.chown) fchownSync(fd, file.uid, file.gid);
    fchmodSync(fd, file.mode);
    futimesSync(fd, file.mtime, file.mtime);
    closeSync(fd);
    closed = true;
    try {
      renameSync(file.temporary, file.path);
    } catch (err) {
      // Overwriting: rename replaces a file by itself, but not a directory in the way.
      if (!setup.overwrite || lstatSync(file.path, { throwIfNoEntry: false }) === undefined) throw err;
      rmSync(file.path, { recursive: true, force: true });
      renameSync(file.temporary, file.path);
    }
    renamed = true;
    return written;
  } finally {
    if (!closed) closeSync(fd);
    if (!renamed) rmSync(file.temporary, { force: true });
  }
}

/** Frees an opened record's plaintext now rather than at the next garbage collection (it has its own buffer). */
function release(plain: Buffer): void {
  const buffer = plain.buffer;
  if (plain.byteOffset === 0 && buffer instanceof ArrayBuffer && buffer.byteLength === plain.length) buffer.transfer(0);
}

function serve(setup: WriterSetup): void {
  const keys: RepositoryKeys | undefined =
    setup.master === undefined ? undefined : splitMasterKey(Buffer.from(setup.master));
  parentPort?.on("message", ({ batch, files, buffer }: WriterBatch) => {
    const results = files.map((file): FileResult => {
      try {
        const bytes = Buffer.from(buffer, file.at, file.length);
        if (!file.sealed) return writeSmallFileSync(file, bytes, setup);
        if (keys === undefined) throw new Error("a sealed record came without the key to open it");
        const plain = openBlob(keys, bytes.subarray(0, ID_BYTES), bytes.subarray(ID_BYTES));
        try {
          return writeSmallFileSync(file, plain, setup);
        } finally {
          release(plain);
        }
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return { message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) };
      }
    });
    parentPort?.postMessage({ batch, results, buffer } satisfies WriterReply, [buffer]);
  });
}

if (parentPort !== null) serve(workerData as WriterSetup);
