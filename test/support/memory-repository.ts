/**
 * A test double of our own Repository interface, kept in memory: objects are whole byte strings keyed by their
 * SHA-256, trees are JSON. It exists so the data mover's walk and restore logic can be tested without the real
 * repository; round-trip tests use the real one on the filesystem store.
 */
import { createHash } from "node:crypto";
import type { ObjectRef, Repository, SnapshotManifest, TreeEntry, WriteOptions } from "../../src/repository/types.ts";

export class InMemoryRepositoryDouble implements Repository {
  readonly objects = new Map<string, Uint8Array>();
  readonly trees = new Map<string, string>();
  readonly snapshots: SnapshotManifest[] = [];
  writeObjectCalls = 0;
  writeTreeCalls = 0;
  readObjectCalls = 0;
  /** Makes the next writeObject calls wait for this promise (to test cancellation mid-write). */
  writeGate: Promise<void> | undefined;
  /** Makes readObject wait for this promise before its first bytes (to test cancellation mid-restore). */
  readGate: Promise<void> | undefined;

  async writeObject(source: AsyncIterable<Uint8Array>, options?: WriteOptions): Promise<ObjectRef> {
    this.writeObjectCalls++;
    const parts: Uint8Array[] = [];
    for await (const part of source) {
      options?.signal?.throwIfAborted();
      parts.push(Uint8Array.from(part));
    }
    if (this.writeGate) await this.writeGate;
    options?.signal?.throwIfAborted();
    const bytes = Buffer.concat(parts);
    const id = createHash("sha256").update(bytes).digest("hex");
    this.objects.set(id, bytes);
    return { id, size: bytes.length };
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    this.writeTreeCalls++;
    const json = JSON.stringify(entries);
    const id = createHash("sha256").update(json).digest("hex");
    this.trees.set(id, json);
    return id;
  }

  async *readObject(ref: ObjectRef, range?: { offset: number; length: number }): AsyncIterable<Uint8Array> {
    this.readObjectCalls++;
    if (this.readGate) await this.readGate;
    const bytes = this.objects.get(ref.id);
    if (bytes === undefined) throw new Error(`object ${ref.id} not found`);
    const start = range?.offset ?? 0;
    const end = range ? start + range.length : bytes.length;
    // Odd-sized pieces, so writers cannot rely on chunk alignment.
    for (let at = start; at < end; at += 10_007) yield bytes.subarray(at, Math.min(end, at + 10_007));
  }

  async readTree(id: string): Promise<TreeEntry[]> {
    const json = this.trees.get(id);
    if (json === undefined) throw new Error(`tree ${id} not found`);
    return JSON.parse(json) as TreeEntry[];
  }

  async saveSnapshot(manifest: Omit<SnapshotManifest, "id">): Promise<SnapshotManifest> {
    const saved = { ...manifest, id: `snap${String(this.snapshots.length + 1).padStart(4, "0")}` };
    this.snapshots.push(saved);
    return saved;
  }

  async listSnapshots(): Promise<SnapshotManifest[]> {
    return [...this.snapshots];
  }

  async loadSnapshot(idOrPrefix: string): Promise<SnapshotManifest> {
    const found = this.snapshots.filter((s) => s.id.startsWith(idOrPrefix));
    if (found.length !== 1) throw new Error(`snapshot ${idOrPrefix} not found`);
    return found[0]!;
  }

  async close(): Promise<void> {}
}
