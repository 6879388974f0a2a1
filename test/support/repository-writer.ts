/**
 * A repository writer for the crash test: saves one snapshot, prints its id, then keeps writing random
 * objects (which fills and uploads packs) until it is killed.
 *   node test/support/repository-writer.ts <repo dir> <password>
 */
import { randomBytes } from "node:crypto";
import { openFilesystemStore } from "../../src/objectstore/filesystem.ts";
import { openRepository } from "../../src/repository/open.ts";

const [dir, password] = process.argv.slice(2);
if (dir === undefined || password === undefined) throw new Error("usage: repository-writer.ts <dir> <password>");
const repo = await openRepository(await openFilesystemStore(dir), password, { workers: 1, lockSettleMs: 0 });

async function* random(size: number): AsyncIterable<Uint8Array> {
  for (let sent = 0; sent < size; sent += 50_000) yield randomBytes(Math.min(50_000, size - sent));
}

const first = await repo.writeObject(random(300_000));
const root = await repo.writeTree([
  { name: "first", type: "file", mode: 0o644, uid: 0, gid: 0, mtimeNs: "1", size: first.size, content: first },
]);
const snapshot = await repo.saveSnapshot({
  startTime: new Date().toISOString(),
  endTime: new Date().toISOString(),
  hostname: "crash-test",
  source: { path: "/crash", volumeMode: "Filesystem" },
  root,
  tags: {},
  stats: { files: 1, dirs: 1, bytes: first.size, bytesRead: first.size, bytesStored: 0, errors: 0 },
});
process.stdout.write(`snapshot ${snapshot.id} ${first.id}\n`);
for (let i = 0; ; i++) {
  const ref = await repo.writeObject(random(200_000));
  await repo.writeTree([
    { name: `f${i}`, type: "file", mode: 0o644, uid: 0, gid: 0, mtimeNs: "1", size: ref.size, content: ref },
  ]);
  process.stdout.write(`object ${i}\n`);
}
