/**
 * The object storage seam. The repository and the backup writer see only this interface; the backends
 * (filesystem, the embedded default, and S3) live next to it. Keys are '/'-separated relative paths.
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Last modification time in milliseconds since the epoch. */
  modified: number;
}

export interface ObjectStore {
  /** A short description for messages, e.g. "s3://bucket/prefix" or "file:///var/lib/skiff". Never holds secrets. */
  readonly describe: string;
  /** Writes the whole object atomically: a reader sees the old object, nothing, or the new one, never a part. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Writes only if no object has this key; returns false when one already exists. */
  putIfAbsent?(key: string, body: Uint8Array): Promise<boolean>;
  /** Reads the whole object, or the byte range [offset, offset+length). Throws ObjectNotFoundError. */
  get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array>;
  /**
   * Optional: reads up to target.length bytes from `offset` into `target` (a caller's reused buffer) and returns
   * how many it read, fewer only where the object ends. Throws ObjectNotFoundError.
   */
  readInto?(key: string, offset: number, target: Uint8Array): Promise<number>;
  /**
   * Optional: an object written piece by piece and made visible whole by `commit` (local stores, where this saves
   * holding the object in memory). Nothing is visible under `key` before the commit.
   */
  openWriter?(key: string): Promise<ObjectWriter>;
  /**
   * Optional: removes what writers that died left half-written (temporary files of a local store) if it was last
   * touched before `olderThanMs` (epoch milliseconds). Stores whose writes are atomic have nothing to remove.
   */
  removeAbandonedWrites?(olderThanMs: number): Promise<{ files: number; bytes: number }>;
  /** Metadata, or undefined when the object does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes; a missing object is not an error. */
  delete(key: string): Promise<void>;
}

/** See ObjectStore.openWriter. */
export interface ObjectWriter {
  /** Writes `data` at `offset`; writes at disjoint offsets may run at once. */
  writeAt(data: Uint8Array, offset: number): Promise<void>;
  /**
   * True when writeAt resolves as soon as it has copied `data` and gathers small writes itself (writes made in
   * offset order, one after another, are its fast path): callers need no staging buffers of their own.
   */
  readonly copies?: boolean;
  /** Makes what was written durable and visible under the key, all at once. */
  commit(): Promise<void>;
  /** Throws away what was written (nothing becomes visible). */
  abort(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(store: string, key: string) {
    super(`object '${key}' does not exist in ${store}`);
    this.name = "ObjectNotFoundError";
    this.key = key;
  }
}
