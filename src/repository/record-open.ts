/**
 * Opening a blob record where it was read: the plaintext overwrites the record's own bytes, so a restore reads,
 * decrypts and writes each chunk through one reused buffer. A fresh multi-megabyte output per chunk would cost a
 * page fault per 4 KiB under the low mmap threshold bin/skiff sets, and garbage collection besides.
 *
 * Same record layout as crypto.ts's sealBlobInto and openBlob: flags (1) | nonce (12) | AES-256-GCM ciphertext |
 * tag (16), under the key HMAC-SHA256(encryption key, blob id), with the blob id and flags as associated data.
 */
import { createDecipheriv } from "node:crypto";
import { promisify } from "node:util";
import { zstdDecompress } from "node:zlib";
import {
  blobKey,
  copyAndFree,
  IntegrityError,
  RECORD_OVERHEAD,
  type RepositoryKeys,
  zstdContentSize,
} from "./crypto.ts";

const FLAG_ZSTD = 1;
/**
 * Decryption output comes in pieces of this size: small enough that each piece is served from malloc's heap
 * (below the mmap threshold) and stays in the CPU cache, large enough that the per-call cost does not matter.
 */
const SLICE = 32 * 1024;
const unzstd = promisify(zstdDecompress);

export interface OpenedInPlace {
  /** The plaintext, a view of the record's buffer (still compressed when `compressed`). */
  plain: Buffer;
  compressed: boolean;
}

/**
 * Decrypts `record` into its own buffer (its first bytes become the plaintext). Throws IntegrityError when the
 * record was altered or is not blob `id`; the buffer then holds garbage.
 */
export function openInPlace(keys: RepositoryKeys, id: Uint8Array, record: Buffer): OpenedInPlace {
  if (record.length < RECORD_OVERHEAD) throw new IntegrityError("blob record is truncated");
  const flags = record[0]!;
  const decipher = createDecipheriv("aes-256-gcm", blobKey(keys, id), record.subarray(1, 13));
  const aad = Buffer.allocUnsafe(id.length + 1);
  aad.set(id);
  aad[id.length] = flags;
  decipher.setAAD(aad);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const end = record.length - 16;
  let length = 0;
  try {
    // Output never overtakes input: piece i lands before offset 13 + i, where the unread ciphertext begins.
    for (let at = 13; at < end; at += SLICE) {
      length += copyAndFree(decipher.update(record.subarray(at, Math.min(end, at + SLICE))), record, length);
    }
    length += copyAndFree(decipher.final(), record, length);
  } catch {
    throw new IntegrityError("blob record failed authentication (altered or corrupted)");
  }
  return { plain: record.subarray(0, length), compressed: (flags & FLAG_ZSTD) !== 0 };
}

/**
 * The plaintext of a record opened in place: the view itself, or (compressed) its decompression into a new
 * buffer, done on the libuv thread pool. `expected` bounds the output (a chunk's size is known from its list).
 */
export async function plaintextOf(opened: OpenedInPlace, expected: number): Promise<Buffer> {
  if (!opened.compressed) return opened.plain;
  const declared = zstdContentSize(opened.plain);
  // One output step as large as the frame declares: a single buffer, no concatenation.
  const chunkSize = Math.max(64 * 1024, (declared ?? expected) + 1);
  return unzstd(opened.plain, { chunkSize, maxOutputLength: Math.max(expected, 1) });
}
