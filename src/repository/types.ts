/**
 * The repository's public contract, shared by the data mover (which walks and restores file systems) and the
 * repository core (which stores objects and trees). Changes here need both sides.
 */

/** A stored byte stream (a file's contents, or a whole block device). */
export interface ObjectRef {
  /** Opaque object id, stable for identical content (dedup). */
  id: string;
  /** Length in bytes. */
  size: number;
}

export type EntryType = "file" | "dir" | "symlink" | "block-device" | "char-device" | "fifo" | "socket";

/** One name in a directory. Directories are stored as trees of these, sorted by name (byte order). */
export interface TreeEntry {
  name: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (st_mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string (exact, unlike a double). */
  mtimeNs: string;
  /** Size in bytes (files and block streams); 0 otherwise. */
  size: number;
  /** File contents. Absent for an empty file. */
  content?: ObjectRef;
  /** Tree id of a directory's contents. */
  subtree?: string;
  /** Target of a symbolic link, verbatim. */
  linkTarget?: string;
  /**
   * Set on every name of a file with more than one link inside the snapshot: the same value for all names of
   * one inode (e.g. "dev:ino" of the source). Restore creates the first and hard-links the others to it.
   */
  hardLinkGroup?: string;
  /** Device number for block/char devices. */
  rdev?: number;
  /** The inode number and ctime seen at backup, used with size/mtime to detect unchanged files. */
  inode?: string;
  ctimeNs?: string;
}

export interface SnapshotStats {
  files: number;
  dirs: number;
  bytes: number;
  /** Bytes actually read from the source (unchanged files are not read again). */
  bytesRead: number;
  /** Bytes added to the repository after dedup and compression. */
  bytesStored: number;
  errors: number;
}

export interface SnapshotManifest {
  /** Assigned by the repository when the snapshot is saved. */
  id: string;
  /** ISO-8601 time the backup started. */
  startTime: string;
  endTime: string;
  hostname: string;
  source: { path: string; volumeMode: "Filesystem" | "Block" };
  /** Root tree id (Filesystem mode) */
  root?: string;
  /** The stream (Block mode). */
  block?: ObjectRef & { mode: number };
  /** Snapshot this one was made incrementally against, if any. */
  parent?: string;
  /** Free-form labels, e.g. velero's backup name or the DataUpload name. */
  tags: Record<string, string>;
  stats: SnapshotStats;
}

export interface WriteOptions {
  /** Known size, if any: lets the writer plan worker use and report progress. */
  sizeHint?: number;
  /** Abort the write (SIGTERM): pending uploads are dropped and nothing is committed. */
  signal?: AbortSignal;
  /**
   * The same file's content in the parent snapshot. Where one of its chunks starts, the bytes that follow are
   * compared with that chunk by fingerprint (crypto.chunkFingerprint) and, when equal, taken as that chunk without
   * being chunked or hashed (guided-chunker.ts).
   */
  parent?: ObjectRef | undefined;
  /** Called with the size of each chunk found unchanged that way. */
  onParentMatch?: (bytes: number) => void;
}

/**
 * A fast path for many small files: the caller seals single-chunk objects on its own threads (with
 * objectSealer(sealing) from repository/sealed-objects.ts, which stores exactly what writeObject would) and
 * hands over the finished records, so the repository only indexes them and appends them to a pack.
 */
export interface SealedObjectSink {
  /** Secret (holds the master key): only for threads of this process. */
  readonly sealing: { master: Uint8Array; compress: boolean };
  /** Objects up to this many bytes are a single chunk; larger ones must go through writeObject. */
  readonly maxObjectBytes: number;
  /** Stores one sealed object of `size` plain bytes; `id` is its blob id. */
  add(id: Uint8Array, record: Uint8Array, size: number): Promise<ObjectRef>;
}

/**
 * A fast path for restoring many small files: the caller gets a single-chunk object's sealed record and opens it
 * on its own threads (crypto.ts's openBlob with splitMasterKey(opening.master)), next to writing the file, so
 * the repository's thread only finds and reads records.
 */
export interface SealedObjectSource {
  /** Secret (holds the master key): only for threads of this process. */
  readonly opening: { master: Uint8Array };
  /**
   * Calls `use` with the blob id and sealed record of a single-chunk object, views valid only during the call,
   * and resolves to what it returned; undefined (and `use` is not called) when the object has several chunks.
   */
  withRecord<T>(ref: ObjectRef, use: (id: Uint8Array, record: Uint8Array) => T): Promise<{ value: T } | undefined>;
}

/** An open repository. One instance may be used by concurrent async callers. */
export interface Repository {
  /** Chunks, deduplicates, compresses, encrypts and stores a byte stream. */
  writeObject(source: AsyncIterable<Uint8Array>, options?: WriteOptions): Promise<ObjectRef>;
  /** Stores a directory listing; entries must be sorted by name. Identical trees get the same id. */
  writeTree(entries: TreeEntry[]): Promise<string>;
  /** Streams an object's bytes, optionally a range of them. */
  readObject(ref: ObjectRef, range?: { offset: number; length: number }): AsyncIterable<Uint8Array>;
  /**
   * Optional, for restores: reads the whole object through a few reused buffers, calling `write` with each piece
   * and its offset in the object. Several writes may run at once and finish in any order; a piece's bytes are
   * reused once its write resolves. Resolves after the last write.
   */
  readObjectInto?(
    ref: ObjectRef,
    write: (data: Uint8Array, offset: number) => Promise<void>,
    signal?: AbortSignal,
  ): Promise<void>;
  readTree(id: string): Promise<TreeEntry[]>;
  /** Optional: the sealed small-object path (see SealedObjectSink). */
  sealedObjects?(): SealedObjectSink;
  /** Optional: the sealed small-object path of restores (see SealedObjectSource). */
  sealedRecords?(): SealedObjectSource;
  /**
   * Makes everything written so far durable, then records the snapshot. Until this returns, a crash loses the
   * snapshot but never corrupts the repository.
   */
  saveSnapshot(manifest: Omit<SnapshotManifest, "id">): Promise<SnapshotManifest>;
  /** Oldest first; a damaged manifest throws, unless `onDamaged` takes it and the listing goes on without it. */
  listSnapshots(onDamaged?: (damage: DamagedSnapshot) => void): Promise<SnapshotManifest[]>;
  /**
   * Removes a snapshot manifest (the backup was deleted). Its data stays until full maintenance finds it
   * unreachable and older than the safety margin.
   */
  deleteSnapshot?(id: string): Promise<void>;
  /** By full id or a unique prefix. */
  loadSnapshot(idOrPrefix: string): Promise<SnapshotManifest>;
  close(): Promise<void>;
}

/** A snapshot manifest that exists but cannot be read. */
export interface DamagedSnapshot {
  id: string;
  /** Its object key, e.g. snapshots/<id>. */
  key: string;
  reason: string;
}
