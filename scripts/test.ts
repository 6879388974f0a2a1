/**
 * `npm test`: type check, lint, make sure the server binaries exist, start the shared control plane
 * (with kube-controller-manager) and S3 server once, run every unit and integration test against them, tear down.
 *
 * Extra arguments go to `node --test`; arguments that are not options (files or globs) replace the default globs,
 * e.g. `npm test -- test/integration/env/s3.test.ts`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBinaries } from "../test/env/build.ts";
import { startControlPlane } from "../test/env/control-plane.ts";
import { makeTempDir, removeTempDir } from "../test/env/process.ts";
import { startS3Server } from "../test/env/s3.ts";
import { stateFileVariable, writeState } from "../test/env/state.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const defaultGlobs = ["test/unit/**/*.test.ts", "test/integration/**/*.test.ts"];

const timings: Array<{ phase: string; seconds: number; ok: boolean }> = [];

async function phase<T>(name: string, run: () => Promise<T>, ok: (result: T) => boolean = () => true): Promise<T> {
  console.log(`\n== ${name}`);
  const started = Date.now();
  let result: T | undefined;
  let passed = false;
  try {
    result = await run();
    passed = ok(result);
    return result;
  } finally {
    const seconds = (Date.now() - started) / 1000;
    timings.push({ phase: name, seconds, ok: passed });
    console.log(`== ${name}: ${passed ? "ok" : "FAILED"} (${seconds.toFixed(1)} s)`);
  }
}

let current: ChildProcess | undefined;
// Registered before the environment's own handlers (which exit at once), so a SIGINT or SIGTERM sent to this
// process (Ctrl-C, a CI timeout) also ends the step that is running, with everything it started: the test step runs
// in its own process group, which the terminal's Ctrl-C does not reach.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (!current?.pid) return;
    try {
      process.kill(-current.pid, signal);
    } catch {
      current.kill(signal);
    }
  });
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  limit?: { seconds: number; what: string },
): Promise<number> {
  return new Promise((resolve) => {
    // With a time limit the command gets its own process group, so it can be ended with everything it started.
    const child = spawn(command, args, { cwd: root, env, stdio: "inherit", detached: limit !== undefined });
    current = child;
    const timer =
      limit &&
      setTimeout(() => {
        console.error(
          `\n${limit.what} did not finish within ${limit.seconds / 60} minutes: a test file probably keeps its event ` +
            "loop alive (an open handle or a child process). Ending it; the run fails.",
        );
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, limit.seconds * 1000);
    child.on("error", (err) => {
      if (timer) clearTimeout(timer);
      console.error(`cannot run ${command}: ${err.message}`);
      resolve(127);
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

function printTimings(): void {
  console.log("\nphase timings:");
  for (const t of timings)
    console.log(`  ${t.ok ? "ok    " : "FAILED"} ${t.phase.padEnd(34)} ${t.seconds.toFixed(1)} s`);
}

const extra = process.argv.slice(2);
const targets = extra.filter((arg) => !arg.startsWith("-"));
const options = extra.filter((arg) => arg.startsWith("-"));

const typecheck = await phase(
  "type check (tsc --noEmit)",
  () => run(bin("tsc"), ["--noEmit"]),
  (c) => c === 0,
);
const lint = await phase(
  "lint (biome check .)",
  () => run(bin("biome"), ["check", "."]),
  (c) => c === 0,
);
const failures = await phase(
  "server binaries",
  () => ensureBinaries(undefined, (line) => console.log(`  ${line}`)),
  (f) => f.length === 0,
);
if (failures.length > 0) {
  for (const failure of failures) console.error(failure.message);
  printTimings();
  process.exit(1);
}

const stateDir = await makeTempDir("test-env");
const [cluster, s3] = await phase("start control plane + S3 server", () =>
  Promise.all([startControlPlane({ controllerManager: true }), startS3Server()]),
).catch((err: Error) => {
  // The message carries the failing server's own last output.
  console.error(`could not start the test environment: ${err.message}`);
  printTimings();
  process.exit(1);
});
const statePath = join(stateDir, "state.json");
await writeState(statePath, {
  version: 1,
  cluster: { server: cluster.server, kubeconfigPath: cluster.kubeconfigPath, controllerManager: true },
  s3: {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    credentialsFile: s3.credentialsFile,
  },
});
console.log(`  apiserver ${cluster.server}, S3 ${s3.endpoint}`);

const testCode = await phase(
  "tests (node --test)",
  () =>
    run(
      process.execPath,
      [
        "--test",
        "--test-concurrency=2",
        // A hung test fails on its own instead of stalling the whole run. (No --test-force-exit: it can end a
        // file before its last results are reported; a file that never exits hits the phase's time limit instead.)
        "--test-timeout=600000",
        ...options,
        ...(targets.length ? targets : defaultGlobs),
      ],
      { ...process.env, [stateFileVariable]: statePath },
      { seconds: 40 * 60, what: "the tests" },
    ),
  (c) => c === 0,
);

await phase("tear down", async () => {
  await Promise.all([cluster.stop(), s3.stop()]);
  await removeTempDir(stateDir);
});
printTimings();
process.exit(testCode !== 0 ? testCode : typecheck !== 0 || lint !== 0 ? 1 : 0);
