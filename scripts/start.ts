/**
 * `npm start`: builds missing server binaries, starts a local control plane and S3 server, and runs Skiff
 * against them (CRDs, node-agent ConfigMap, `skiff webhook` registered by URL, repositories, a self-check).
 * Prints how to reach everything and stays up until Ctrl-C or SIGTERM; then every process and temp dir goes
 * away (the repository in the user's data dir stays). The parts live in scripts/local/.
 */
import { fileURLToPath } from "node:url";
import { ensureBinaries } from "../test/env/build.ts";
import { startLocalSkiff } from "./local/environment.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

const failures = await ensureBinaries(undefined, (line) => console.log(line));
if (failures.length > 0) {
  for (const failure of failures) console.error(failure.message);
  process.exit(1);
}

const started = Date.now();
let skiff: Awaited<ReturnType<typeof startLocalSkiff>>;
try {
  skiff = await startLocalSkiff(root, (line) => console.log(line));
} catch (err) {
  console.error(`could not start the local environment: ${(err as Error).message}`);
  process.exit(1);
}

// Until here a signal ends the process through the environment's exit handlers (servers killed, temp dirs
// removed). From now on it is a graceful stop: webhook configurations removed, webhook drained, servers stopped.
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
for (const signal of signals) process.removeAllListeners(signal);
let stopping = false;
for (const signal of signals) {
  process.on(signal, () => {
    // A second signal while stopping: give up on grace; the exit handler still kills everything.
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n${signal}: stopping`);
    skiff.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}

console.log(`\nup in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
for (const line of skiff.summary) console.log(line);
console.log("\nCtrl-C stops everything and removes the temp dirs.");
// Stay up until a signal arrives.
setInterval(() => {}, 1 << 30);
