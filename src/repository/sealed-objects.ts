/**
 * Sealing single-chunk objects away from the repository's own thread: a backup of many small files reads, hashes
 * and encrypts each file on a reader thread and hands the repository finished records (Repository.sealedObjects),
 * which it only has to index and append to a pack. The records are exactly what writeObject would store for the
 * same bytes (same id, same record layout as crypto.ts's blobId and sealBlobInto), so both paths deduplicate
 * against each other and read back the same way.
 *
 * Per small file the fixed costs dominate: an Hmac object built from a key object costs ~10 us, as much as
 * hashing 4 KiB. HMAC-SHA256 is computed here from its definition (RFC 2104) with one-shot hashes instead:
 * H((K ^ opad) | H((K ^ ipad) | m)), the padded keys made once.
 */
import { createCipheriv, createSecretKey, hash, randomFillSync } from "node:crypto";
import {
  BLOB_ID_BYTES,
  copyAndFree,
  RECORD_OVERHEAD,
  type RepositoryKeys,
  sealBlobInto,
  splitMasterKey,
} from "./crypto.ts";

/** What a thread needs to seal objects as the repository does. Holds the master key: never log or persist it. */
export interface ObjectSealing {
  /** The 64-byte master key. */
  master: Uint8Array;
  /** Whether data chunks are compressed (the repository's `compression`). */
  compress: boolean;
}

/** Bytes before the record in a sealed object's buffer: the blob id. */
export const SEALED_ID_BYTES = BLOB_ID_BYTES;

export interface ObjectSealer {
  /**
   * Seals `data` as one chunk into `target` at `at`: the blob id, then the record. `target` must have room for
   * sealedBytes(data.length); returns the bytes written (fewer when compressed).
   */
  sealInto(data: Uint8Array, target: Buffer, at: number): number;
}

/** The most bytes ObjectSealer.sealInto writes for `size` plain bytes. */
export function sealedBytes(size: number): number {
  return SEALED_ID_BYTES + RECORD_OVERHEAD + size;
}

const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

/** HMAC-SHA256 with a fixed key of at most one block, by two one-shot hashes. */
class OneShotHmac {
  /** K ^ ipad, then room for the message (grown to the largest message seen). */
  #inner: Buffer;
  /** K ^ opad, then the inner hash. */
  readonly #outer: Buffer;

  constructor(key: Uint8Array) {
    if (key.length > SHA256_BLOCK) throw new Error("HMAC keys longer than a block are hashed first");
    this.#inner = Buffer.alloc(SHA256_BLOCK + 4096);
    this.#outer = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES);
    for (let i = 0; i < SHA256_BLOCK; i++) {
      const k = i < key.length ? key[i]! : 0;
      this.#inner[i] = k ^ 0x36;
      this.#outer[i] = k ^ 0x5c;
    }
  }

  /** The full 32-byte MAC of `message`. */
  digest(message: Uint8Array): Buffer {
    if (this.#inner.length < SHA256_BLOCK + message.length) {
      const bigger = Buffer.alloc(SHA256_BLOCK + message.length);
      this.#inner.copy(bigger, 0, 0, SHA256_BLOCK);
      this.#inner = bigger;
    }
    this.#inner.set(message, SHA256_BLOCK);
    const innerHash = hash("sha256", this.#inner.subarray(0, SHA256_BLOCK + message.length), "buffer");
    innerHash.copy(this.#outer, SHA256_BLOCK);
    return hash("sha256", this.#outer, "buffer");
  }
}

/** Random nonces, drawn from the system generator a few kilobytes at a time (one call per record is slow). */
class Nonces {
  readonly #pool = Buffer.allocUnsafe(12 * 1024);
  #at = this.#pool.length;
  /** Writes the next 12-byte nonce into `target` at `offset`. */
  writeInto(target: Buffer, offset: number): Buffer {
    if (this.#at === this.#pool.length) {
      randomFillSync(this.#pool);
      this.#at = 0;
    }
    const nonce = this.#pool.subarray(this.#at, this.#at + 12);
    this.#at += 12;
    nonce.copy(target, offset);
    return nonce;
  }
}

export function objectSealer(sealing: ObjectSealing): ObjectSealer {
  const master = Buffer.from(sealing.master);
  // Compressed records take crypto.ts's path (compression decides the flags); plain ones the fast one below.
  const keys: RepositoryKeys = splitMasterKey(master);
  const idMac = new OneShotHmac(master.subarray(32, 64));
  const keyMac = new OneShotHmac(master.subarray(0, 32));
  const nonces = new Nonces();
  const aad = Buffer.alloc(BLOB_ID_BYTES + 1);
  return {
    sealInto(data, target, at) {
      const id = idMac.digest(data).subarray(0, BLOB_ID_BYTES);
      const start = at;
      at += id.copy(target, at);
      if (sealing.compress) {
        const room = target.subarray(at, at + RECORD_OVERHEAD + data.length);
        return SEALED_ID_BYTES + sealBlobInto(keys, id, data, room, true);
      }
      // The record: flags (0: not compressed) | nonce | AES-256-GCM(HMAC(encryption key, id)) | tag; the
      // associated data is the id and the flags.
      target[at++] = 0;
      const nonce = nonces.writeInto(target, at);
      at += 12;
      const cipher = createCipheriv("aes-256-gcm", createSecretKey(keyMac.digest(id)), nonce);
      id.copy(aad, 0);
      cipher.setAAD(aad);
      // Freed at once rather than left to the collector (the cipher's output is a fresh buffer per file).
      at += copyAndFree(cipher.update(data), target, at);
      at += cipher.final().copy(target, at);
      at += cipher.getAuthTag().copy(target, at);
      return at - start;
    },
  };
}

/** The id and record views of `length` bytes at `at` written by ObjectSealer.sealInto. */
export function splitSealed(buffer: ArrayBuffer, at: number, length: number): { id: Buffer; record: Buffer } {
  return {
    id: Buffer.from(buffer, at, SEALED_ID_BYTES),
    record: Buffer.from(buffer, at + SEALED_ID_BYTES, length - SEALED_ID_BYTES),
  };
}
