/**
 * Builds (or finds) every server binary the tests use, so the first test run does not pay for it.
 * Usage: node test/env/build.ts [component ...]
 */
import { type Component, ensureBinary } from "./binaries.ts";

const all: Component[] = ["etcd", "versitygw", "kube-apiserver", "kube-controller-manager"];
const wanted = process.argv.slice(2) as Component[];
for (const name of wanted) {
  if (!all.includes(name)) {
    console.error(`unknown component '${name}'; expected one of: ${all.join(", ")}`);
    process.exit(2);
  }
}
for (const component of wanted.length ? wanted : all) {
  const started = Date.now();
  try {
    const path = await ensureBinary(component, (line) => console.log(line));
    console.log(`${component}: ${path} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    console.error(`${component}: ${(err as Error).message}`);
    process.exit(1);
  }
}
