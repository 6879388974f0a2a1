/**
 * `npm run gen:crds`: writes the velero.io CRDs generated from src/api/velero/ into manifests/crds/.
 * With --check it writes nothing and exits 1 when a committed file differs from the generated one.
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateCrdFiles } from "../src/api/velero/crds.ts";

const dir = fileURLToPath(new URL("../manifests/crds/", import.meta.url));
const check = process.argv.includes("--check");
const files = generateCrdFiles();

await mkdir(dir, { recursive: true });
const existing = (await readdir(dir)).filter((name) => name.startsWith("velero.io_"));
let stale = 0;
for (const [name, text] of files) {
  const current = await readFile(join(dir, name), "utf8").catch(() => undefined);
  if (current === text) continue;
  stale++;
  if (check) console.error(`${join(dir, name)} is out of date`);
  else await writeFile(join(dir, name), text);
}
for (const name of existing.filter((n) => !files.has(n))) {
  stale++;
  if (check) console.error(`${join(dir, name)} is not generated any more`);
  else await rm(join(dir, name));
}
console.log(`${files.size} CRDs, ${stale} ${check ? "out of date" : "written or removed"}`);
process.exit(check && stale > 0 ? 1 : 0);
