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
  /** Metadata, or undefined when the object does not exist. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with prefix, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Deletes; a missing object is not an error. */
  delete(key: string): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(store: string, key: string) {
    super(`object '${key}' does not exist in ${store}`);
    this.name = "ObjectNotFoundError";
    this.key = key;
  }
}
