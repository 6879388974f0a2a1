/**
 * A seal worker: hashes chunks, then (if the calling thread says the content is new) compresses and encrypts
 * them, or opens records on the read path. The chunk stays here between the two steps, so it crosses the
 * thread boundary only once each way; chunk and record buffers travel back to be reused.
 */
import { parentPort, workerData } from "node:worker_threads";
import {
  blobId,
  chunkFingerprint,
  IntegrityError,
  openBlob,
  RECORD_OVERHEAD,
  type RepositoryKeys,
  sealBlobInto,
  sealInPlace,
  splitMasterKey,
} from "./crypto.ts";

export type WorkerRequest =
  /** Hashes the chunk to its id and fingerprints it (for the chunk list); the chunk is held for seal or drop. */
  | { op: "hash"; seq: number; buffer: ArrayBuffer; length: number }
  | { op: "seal"; seq: number }
  | { op: "drop"; seq: number }
  | { op: "recycle"; buffer: ArrayBuffer }
  | { op: "open"; seq: number; id: Uint8Array; record: Uint8Array };

export type WorkerReply =
  | { seq: number; id: Uint8Array; fingerprint: Uint8Array }
  | { seq: number; record: ArrayBuffer; recordLength: number; chunk: ArrayBuffer }
  /** Sealed in the chunk's own buffer: the record is its first recordLength bytes. */
  | { seq: number; inPlace: ArrayBuffer; recordLength: number }
  | { seq: number; chunk: ArrayBuffer }
  | { seq: number; plain: Uint8Array }
  | { seq: number; error: string; integrity: boolean };

export interface WorkerSetup {
  master: Uint8Array;
  maxChunk: number;
  /** Whether data chunks are compressed (the repository's `compression`). */
  compress: boolean;
}

const port = parentPort;
if (port === null) throw new Error("seal-worker.ts must run as a worker thread");
const setup = workerData as WorkerSetup;
const keys: RepositoryKeys = splitMasterKey(Buffer.from(setup.master));
const recordCapacity = setup.maxChunk + RECORD_OVERHEAD + 64;
const freeRecords: ArrayBuffer[] = [];
const held = new Map<number, { buffer: ArrayBuffer; length: number; id: Buffer }>();

function transferable(buf: Uint8Array): ArrayBuffer[] {
  return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer
    ? [buf.buffer]
    : [];
}

function take(seq: number) {
  const chunk = held.get(seq);
  if (chunk === undefined) throw new Error(`no chunk ${seq} held`);
  held.delete(seq);
  return chunk;
}

port.on("message", (msg: WorkerRequest) => {
  if (msg.op === "recycle") {
    if (msg.buffer.byteLength === recordCapacity && freeRecords.length < 3) freeRecords.push(msg.buffer);
    else msg.buffer.transfer(0);
    return;
  }
  try {
    switch (msg.op) {
      case "hash": {
        const data = new Uint8Array(msg.buffer, 0, msg.length);
        const fingerprint = chunkFingerprint(keys, data);
        const id = blobId(keys, data);
        held.set(msg.seq, { buffer: msg.buffer, length: msg.length, id });
        port.postMessage({ seq: msg.seq, id, fingerprint } satisfies WorkerReply);
        return;
      }
      case "seal": {
        const chunk = take(msg.seq);
        const id = chunk.id;
        if (!setup.compress && chunk.buffer.byteLength >= chunk.length + RECORD_OVERHEAD) {
          const recordLength = sealInPlace(keys, id, Buffer.from(chunk.buffer), chunk.length);
          port.postMessage({ seq: msg.seq, inPlace: chunk.buffer, recordLength } satisfies WorkerReply, [chunk.buffer]);
          return;
        }
        const record = freeRecords.pop() ?? new ArrayBuffer(recordCapacity);
        const data = new Uint8Array(chunk.buffer, 0, chunk.length);
        const recordLength = sealBlobInto(keys, id, data, Buffer.from(record), setup.compress);
        port.postMessage({ seq: msg.seq, record, recordLength, chunk: chunk.buffer } satisfies WorkerReply, [
          record,
          chunk.buffer,
        ]);
        return;
      }
      case "drop": {
        const chunk = take(msg.seq);
        port.postMessage({ seq: msg.seq, chunk: chunk.buffer } satisfies WorkerReply, [chunk.buffer]);
        return;
      }
      case "open": {
        const plain = openBlob(keys, msg.id, msg.record);
        port.postMessage({ seq: msg.seq, plain } satisfies WorkerReply, transferable(plain));
        return;
      }
    }
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    port.postMessage({ seq: msg.seq, error, integrity: err instanceof IntegrityError } satisfies WorkerReply);
  }
});
