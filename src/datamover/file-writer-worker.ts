/**
 * Worker thread body that creates small restored files. Each job is done with synchronous calls (create under
 * the temporary name, write, chown, chmod, utimes, close, rename into place), which cost microseconds each here
 * and keep the main thread, busy with the repository, free of file system work.
 */
import { closeSync, fchmodSync, fchownSync, futimesSync, lstatSync, openSync, renameSync, rmSync } from "node:fs";
import { serveBatches } from "./batch-worker-pool.ts";
import { writeBytesSync } from "./sparse-writer.ts";

export interface SmallFileJob {
  temporary: string;
  path: string;
  data: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, as utimes takes them. */
  mtime: number;
  chown: boolean;
  sparse: boolean;
  overwrite: boolean;
}

export function writeSmallFileSync(job: SmallFileJob): number {
  const fd = openSync(job.temporary, "wx", 0o600);
  let closed = false;
  let renamed = false;
  try {
    const data = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.length);
    const written = writeBytesSync(fd, data, job.sparse);
    if (job.chown) fchownSync(fd, job.uid, job.gid);
    fchmodSync(fd, job.mode);
    futimesSync(fd, job.mtime, job.mtime);
    closeSync(fd);
    closed = true;
    try {
      renameSync(job.temporary, job.path);
    } catch (err) {
      // Overwriting: rename replaces a file by itself, but not a directory in the way.
      if (!job.overwrite || lstatSync(job.path, { throwIfNoEntry: false }) === undefined) throw err;
      rmSync(job.path, { recursive: true, force: true });
      renameSync(job.temporary, job.path);
    }
    renamed = true;
    return written;
  } finally {
    if (!closed) closeSync(fd);
    if (!renamed) rmSync(job.temporary, { force: true });
  }
}

serveBatches((job: SmallFileJob) => ({ value: writeSmallFileSync(job) }));
