/**
 * Walks the trees of snapshots, depth first, calling back for every object's blobs. Shared by verify (which
 * attributes damage to paths) and maintenance (which marks what is reachable). A tree already visited is not
 * walked again unless the visitor asks for it, so memory is one bit per index slot plus the current path.
 */
import { SlotBits } from "./index-table.ts";
import type { SkiffRepository } from "./repository.ts";
import { parseObjectId, parseTreeId } from "./tree-codec.ts";
import type { ObjectRef, SnapshotManifest, TreeEntry } from "./types.ts";

export type BlobKind = "tree" | "chunk-list" | "chunk";

export interface WalkVisitor {
  /**
   * A blob an object or tree needs; `slot` is -1 when the index does not have it. Return false if it is unusable.
   * `kind` says whether other blobs are reached through it (a tree or a chunk list) or not (a file chunk).
   */
  blob(id: Buffer, slot: number, path: string, what: string, kind: BlobKind): boolean;
  /** A tree or chunk list that could not be read. */
  unreadable(path: string, what: string, err: unknown): void;
  /** Walk a tree again although it was visited (verify does this for damaged trees, to name their paths). */
  revisit?(slot: number): boolean;
}

export class SnapshotWalker {
  readonly visited: SlotBits;
  /** Trees below which something was unusable. */
  readonly damaged: SlotBits;
  private readonly repo: SkiffRepository;
  private readonly visitor: WalkVisitor;
  /** Chunk lists already checked and found whole. */
  private readonly listsOk: SlotBits;

  constructor(repo: SkiffRepository, visitor: WalkVisitor) {
    this.repo = repo;
    this.visitor = visitor;
    const capacity = repo.blobs.table.capacity;
    this.visited = new SlotBits(capacity);
    this.damaged = new SlotBits(capacity);
    this.listsOk = new SlotBits(capacity);
  }

  /** Returns whether everything the snapshot needs is usable. */
  async walkSnapshot(snapshot: SnapshotManifest): Promise<boolean> {
    let ok = true;
    if (snapshot.root !== undefined) ok = (await this.walkTree(snapshot.root, "/")) && ok;
    if (snapshot.block !== undefined) ok = (await this.walkObject(snapshot.block, "<block device>")) && ok;
    return ok;
  }

  async walkTree(id: string, path: string): Promise<boolean> {
    const table = this.repo.blobs.table;
    let blob: Buffer;
    try {
      blob = parseTreeId(id);
    } catch (err) {
      this.visitor.unreadable(path, `tree ${id}`, err);
      return false;
    }
    const slot = table.find(blob);
    if (!this.visitor.blob(blob, slot, path, `tree ${id}`, "tree")) return false;
    if (this.visited.has(slot) && !(this.damaged.has(slot) && this.visitor.revisit?.(slot))) {
      return !this.damaged.has(slot);
    }
    this.visited.set(slot);
    let entries: TreeEntry[];
    try {
      entries = await this.repo.readTree(id);
    } catch (err) {
      this.visitor.unreadable(path, `tree ${id}`, err);
      this.damaged.set(slot);
      return false;
    }
    let ok = true;
    for (const e of entries) {
      const child = path === "/" ? `/${e.name}` : `${path}/${e.name}`;
      if (e.subtree !== undefined) ok = (await this.walkTree(e.subtree, child)) && ok;
      if (e.content !== undefined) ok = (await this.walkObject(e.content, child)) && ok;
    }
    if (!ok) this.damaged.set(slot);
    return ok;
  }

  async walkObject(ref: ObjectRef, path: string): Promise<boolean> {
    let parsed: ReturnType<typeof parseObjectId>;
    try {
      parsed = parseObjectId(ref.id);
    } catch (err) {
      this.visitor.unreadable(path, `object ${ref.id}`, err);
      return false;
    }
    const table = this.repo.blobs.table;
    const slot = table.find(parsed.blob);
    if (!parsed.list) return this.visitor.blob(parsed.blob, slot, path, `object ${ref.id}`, "chunk");
    if (!this.visitor.blob(parsed.blob, slot, path, `chunk list of object ${ref.id}`, "chunk-list")) return false;
    if (this.listsOk.has(slot)) return true;
    let chunks: Awaited<ReturnType<SkiffRepository["chunksOf"]>>;
    try {
      chunks = await this.repo.chunksOf(ref);
    } catch (err) {
      this.visitor.unreadable(path, `chunk list of object ${ref.id}`, err);
      return false;
    }
    let ok = true;
    for (const chunk of chunks) {
      ok = this.visitor.blob(chunk.id, table.find(chunk.id), path, `chunk ${chunk.id.toString("hex")}`, "chunk") && ok;
    }
    if (ok) this.listsOk.set(slot);
    return ok;
  }
}
