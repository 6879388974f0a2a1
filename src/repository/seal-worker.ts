/**
 * A seal worker: hashes chunks, then (if the calling thread says the content is new) compresses and encrypts
 * them, or opens records on the read path. The chunk stays here between the two steps, so it crosses the
 * thread boundary only once each way.
 */
import { parentPort, workerData } from "node:worker_threads";
import { blobId, IntegrityError, openBlob, type RepositoryKeys, sealBlob, splitMasterKey } from "./crypto.ts";

export type WorkerRequest =
  | { op: "hash"; seq: number; data: Uint8Array }
  | { op: "seal"; seq: number }
  | { op: "drop"; seq: number }
  | { op: "open"; seq: number; id: Uint8Array; record: Uint8Array };

export type WorkerReply =
  | { seq: number; id: Uint8Array }
  | { seq: number; record: Uint8Array }
  | { seq: number; plain: Uint8Array }
  | { seq: number; error: string; integrity: boolean };

const port = parentPort;
if (port === null) throw new Error("seal-worker.ts must run as a worker thread");
const keys: RepositoryKeys = splitMasterKey(Buffer.from(workerData.master as Uint8Array));
const held = new Map<number, { data: Uint8Array; id: Buffer }>();

function transferable(buf: Uint8Array): ArrayBuffer[] {
  return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer
    ? [buf.buffer]
    : [];
}

port.on("message", (msg: WorkerRequest) => {
  try {
    switch (msg.op) {
      case "hash": {
        const id = blobId(keys, msg.data);
        held.set(msg.seq, { data: msg.data, id });
        port.postMessage({ seq: msg.seq, id } satisfies WorkerReply);
        return;
      }
      case "seal": {
        const chunk = held.get(msg.seq);
        if (chunk === undefined) throw new Error(`no chunk ${msg.seq} held`);
        held.delete(msg.seq);
        const record = sealBlob(keys, chunk.id, chunk.data);
        port.postMessage({ seq: msg.seq, record } satisfies WorkerReply, transferable(record));
        return;
      }
      case "drop":
        held.delete(msg.seq);
        return;
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
