/**
 * Small records are read from packs a window at a time. A restore of many small files asks for their records
 * in about the order the backup stored them, back to back in the same packs: one positional read of a megabyte
 * serves a few hundred records, where a read per record cost a thread-pool round trip each. A few windows are
 * kept (least recently used reused first), so files restored from two or three places at once still hit.
 */
import type { ObjectStore } from "../objectstore/types.ts";

interface Window {
  key: string | undefined;
  start: number;
  /** End of the bytes read (until the read finishes: of those asked for). */
  end: number;
  buffer: Buffer;
  /** Settles when the read finishes; rejects when it failed (the window is then dropped). */
  ready: Promise<void>;
  /** Callers waiting for the read: the window is not reused under them. */
  users: number;
  lastUse: number;
}

export class PackWindows {
  readonly #store: ObjectStore;
  readonly #size: number;
  readonly #count: number;
  readonly #windows: Window[] = [];
  #clock = 0;

  constructor(store: ObjectStore, windowBytes: number, count: number) {
    this.#store = store;
    this.#size = windowBytes;
    this.#count = count;
  }

  /** Records up to this size are read through windows. */
  get maxRecord(): number {
    return this.#size >> 4;
  }

  /**
   * A copy of bytes [offset, offset + length) of object `key`, or undefined when windows cannot serve them
   * (a store without positional reads, a record too large, every window busy).
   */
  async read(key: string, offset: number, length: number): Promise<Buffer | undefined> {
    return (await this.use(key, offset, length, (view) => Buffer.from(view)))?.value;
  }

  /**
   * Like read, but calls `use` with a view of the window, valid only during the call (no copy), and resolves to
   * what it returned.
   */
  async use<T>(
    key: string,
    offset: number,
    length: number,
    use: (view: Buffer) => T,
  ): Promise<{ value: T } | undefined> {
    if (this.#store.readInto === undefined || length > this.maxRecord) return undefined;
    const window = this.#find(key, offset, length) ?? this.#load(key, offset);
    if (window === undefined) return undefined;
    window.users++;
    window.lastUse = ++this.#clock;
    try {
      await window.ready;
    } finally {
      window.users--;
    }
    if (window.key !== key || offset + length > window.end) {
      // The object ends before the record does: the store's own read reports it.
      return undefined;
    }
    return { value: use(window.buffer.subarray(offset - window.start, offset - window.start + length)) };
  }

  #find(key: string, offset: number, length: number): Window | undefined {
    for (const w of this.#windows) {
      if (w.key === key && w.start <= offset && offset + length <= w.end) return w;
    }
    return undefined;
  }

  #load(key: string, offset: number): Window | undefined {
    let window: Window | undefined;
    if (this.#windows.length < this.#count) {
      window = {
        key,
        start: 0,
        end: 0,
        buffer: Buffer.allocUnsafeSlow(this.#size),
        ready: Promise.resolve(),
        users: 0,
        lastUse: 0,
      };
      this.#windows.push(window);
    } else {
      for (const w of this.#windows) {
        if (w.users === 0 && (window === undefined || w.lastUse < window.lastUse)) window = w;
      }
      if (window === undefined) return undefined;
    }
    const w = window;
    w.key = key;
    w.start = offset;
    w.end = offset + this.#size;
    w.ready = this.#store.readInto!(key, offset, w.buffer).then(
      (read) => {
        w.end = offset + read;
      },
      (err: unknown) => {
        w.key = undefined;
        throw err;
      },
    );
    // Awaited by every caller; this keeps a failure nobody waits for from being unhandled.
    w.ready.catch(() => {});
    return w;
  }
}
