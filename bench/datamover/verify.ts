/**
 * Confirms a restore is byte-for-byte the source: same relative paths, sizes and SHA-256 of every file.
 * The source's digests are computed once and compared with each tool's restore.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

export type TreeDigest = Map<string, string>;

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export async function treeDigest(root: string): Promise<TreeDigest> {
  const digests: TreeDigest = new Map();
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  // A few reads in flight: small files are latency-bound, large ones stream.
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const path = files[next++]!;
      const size = (await stat(path)).size;
      digests.set(relative(root, path), `${size}:${await fileDigest(path)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return digests;
}

/** Differences as short messages (empty when identical); at most `limit` are listed. */
export function compareTrees(expected: TreeDigest, actual: TreeDigest, limit = 5): string[] {
  const problems: string[] = [];
  for (const [path, digest] of expected) {
    const got = actual.get(path);
    if (got === undefined) problems.push(`missing ${path}`);
    else if (got !== digest) problems.push(`differs ${path}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) problems.push(`unexpected ${path}`);
  return problems.length > limit ? [...problems.slice(0, limit), `... ${problems.length - limit} more`] : problems;
}
