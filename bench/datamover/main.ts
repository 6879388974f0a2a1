/**
 * `npm run bench:datamover [-- --quick | --million] [--s3] [--cold] [--repeat N] [--data-dir DIR] [--tools skiff,skiff-zstd,kopia,restic]`
 *
 * Backs up the same deterministic data with Skiff, kopia and restic, each into its own local filesystem
 * repository, and prints seconds, throughput, peak RSS and repository size per step, with Skiff's speed
 * relative to each peer. Steps: (a) large files, (b) many small files, (c) re-backup of (a) after a 1% change,
 * (d) restore of (c)'s snapshot, verified byte for byte. `--million`: Skiff's backup of 1,000,000 small files
 * and a full maintenance of that repository, for peak memory.
 *
 * By default every tool runs once per step, in the same order (skiff, skiff-zstd, kopia, restic), on data put in
 * the page cache just before its turn (every file read once); `sync` runs before every step so nobody pays for
 * an earlier writer's dirty pages. `--cold` also drops the page cache before every step (needs root and a writable
 * /proc/sys/vm/drop_caches; it slows everything else on the machine for a moment).
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createS3Store } from "../../src/objectstore/s3.ts";
import { type S3Server, startS3Server } from "../../test/env/s3.ts";
import { ensureSmall, treeSize } from "./datasets.ts";
import { measure } from "./measure.ts";
import { ensureGnuTime, ensureKopia, ensureRestic, kopiaVersion, runQuiet } from "./peers.ts";
import { medianOfRounds, type Row, renderReport, speedRatio } from "./report.ts";
import { standardRound } from "./standard.ts";
import { bucketFor, kopiaTool, resticTool, skiffTool, type Tool, type ToolName } from "./tools.ts";
import { warmPageCache, warmUpTools } from "./warm.ts";

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    million: { type: "boolean", default: false },
    s3: { type: "boolean", default: false },
    cold: { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    "data-dir": { type: "string" },
    tools: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(
    "usage: npm run bench:datamover -- [--quick | --million] [--s3] [--cold] [--repeat N] [--data-dir DIR] [--tools skiff,skiff-zstd,kopia,restic]",
  );
  process.exit(0);
}

const log = (line: string) => console.error(`[bench] ${line}`);
const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const dataDir = resolve(flags["data-dir"] ?? join(projectRoot, "bench", ".data"));
const mode = flags.million ? "million" : flags.quick ? "quick" : "full";
const sizes = {
  full: { largeBytes: 2 * 1024 ** 3, smallFiles: 100_000 },
  quick: { largeBytes: 200 * 1024 ** 2, smallFiles: 10_000 },
  million: { largeBytes: 0, smallFiles: 1_000_000 },
}[mode];
const wanted = (flags.tools ?? (mode === "million" ? "skiff" : "skiff,skiff-zstd,kopia,restic")).split(
  ",",
) as ToolName[];

const rows: Row[] = [];
const repeats = Number(flags.repeat);
if (!Number.isInteger(repeats) || repeats < 1 || repeats > 9) {
  console.error(`--repeat must be a whole number from 1 to 9, not '${flags.repeat}'`);
  process.exit(2);
}
/** The round being measured (with --repeat, each round starts from empty repositories). */
let round = 1;
/** The first lines of every failed command, printed under the table. */
const failures: string[] = [];

function recordFailure(err: unknown): void {
  const message = (err as Error).message;
  log(message);
  failures.push(message.split("\n").slice(0, 3).join(" / "));
}
const runDir = join(dataDir, `run-${mode}${flags.s3 ? "-s3" : ""}`);
/** With --s3: the local S3 server (versitygw from the test environment) holding every repository. */
let s3: S3Server | undefined;

async function prepareTools(): Promise<{ tools: Tool[]; skipped: Array<{ name: string; reason: string }> }> {
  const tools: Tool[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  for (const name of wanted) {
    const workDir = join(runDir, name);
    try {
      if (name === "skiff" || name === "skiff-zstd") {
        const tool = await skiffTool(workDir, s3, name);
        // The repository and data mover commands may not be in a given checkout yet; say so and run the peers.
        const help = await runQuiet(process.execPath, [join(projectRoot, "src", "main.ts"), "--help"]);
        const needed = [
          "repo init",
          "data-mover backup",
          "data-mover restore",
          ...(mode === "million" ? ["repo maintenance"] : []),
        ];
        const missing = needed.filter((command) => !help.includes(command));
        if (missing.length)
          throw new Error(`this checkout's CLI has no ${missing.map((m) => `'skiff ${m}'`).join(", ")}`);
        const commit = await runQuiet("git", ["describe", "--always", "--dirty"], { cwd: projectRoot }).catch(() => "");
        tools.push({ ...tool, version: commit.trim() ? `commit ${commit.trim()}` : tool.version });
      } else if (name === "kopia") {
        tools.push(kopiaTool(await ensureKopia(log), kopiaVersion, workDir, s3));
      } else if (name === "restic") {
        const binary = await ensureRestic(log);
        const version = (await runQuiet(binary, ["version"])).split(" ")[1] ?? "?";
        tools.push(resticTool(binary, version, workDir, s3));
      } else {
        throw new Error(`unknown tool '${name}' (expected skiff, skiff-zstd, kopia, restic)`);
      }
    } catch (err) {
      skipped.push({ name, reason: (err as Error).message.split("\n")[0] ?? "failed" });
      log(`${name}: not run: ${(err as Error).message.split("\n").slice(0, 3).join(" / ")}`);
    }
  }
  return { tools, skipped };
}

async function step(
  timeBinary: string,
  tool: Tool,
  stepName: string,
  spec: ReturnType<Tool["backup"]>,
  counts: { files: number; bytes: number; rate: Row["rate"] },
  repo: string | undefined,
  reads?: string,
): Promise<{ stdout: string } | undefined> {
  log(`${stepName}: ${tool.name}`);
  if (reads !== undefined && !flags.cold) warmPageCache(reads);
  // Flush dirty pages first, so that no tool pays for the writeback of data written before its turn.
  await runQuiet("sync", []).catch(() => {});
  if (flags.cold) await dropPageCache();
  try {
    const measured = await measure(timeBinary, spec, `${tool.name} ${stepName}`);
    rows.push({
      round,
      step: stepName,
      tool: tool.name,
      seconds: measured.seconds,
      ...counts,
      peakRssBytes: measured.peakRssBytes,
      peakAnonBytes: measured.peakAnonBytes,
      cpuSeconds: measured.cpuSeconds,
      repoBytes: repo ? await repoSize(tool, repo) : undefined,
    });
    return measured;
  } catch (err) {
    recordFailedStep(err, tool, stepName, counts, "failed");
    return undefined;
  }
}

/** A step that did not complete still gets a row, with zero figures and a note saying why. */
function recordFailedStep(
  err: unknown,
  tool: Tool,
  stepName: string,
  counts: { files: number; bytes: number; rate: Row["rate"] },
  note: string,
): void {
  recordFailure(err);
  rows.push({
    round,
    step: stepName,
    tool: tool.name,
    seconds: 0,
    ...counts,
    peakRssBytes: 0,
    cpuSeconds: 0,
    repoBytes: undefined,
    note,
  });
}

/** Drops clean page-cache pages (1 = page cache only; dentries and inodes stay). Throws when not permitted. */
async function dropPageCache(): Promise<void> {
  try {
    await writeFile("/proc/sys/vm/drop_caches", "1\n");
  } catch (err) {
    throw new Error(`--cold: cannot drop the page cache: ${(err as Error).message}`, { cause: err });
  }
}

/** Bytes stored: the repository folder, or with --s3 every object in the tool's bucket. */
async function repoSize(tool: Tool, repo: string): Promise<number> {
  if (!s3) return treeSize(repo);
  const store = await createS3Store({
    bucket: bucketFor(tool.name, repo),
    config: { region: s3.region, s3Url: s3.endpoint, s3ForcePathStyle: "true", checksumAlgorithm: "" },
    credentialsFile: s3.credentialsFile,
  });
  try {
    let total = 0;
    for await (const object of store.list("")) total += object.size;
    return total;
  } finally {
    store.close();
  }
}

/** Creates the repository; when that fails, the step gets a row saying so. */
async function initRepo(timeBinary: string, tool: Tool, repo: string, stepName: string): Promise<boolean> {
  await rm(repo, { recursive: true, force: true });
  await mkdir(join(repo, ".."), { recursive: true });
  try {
    if (s3) await s3.createBucket(bucketFor(tool.name, repo));
    await measure(timeBinary, tool.init(repo), `${tool.name} init`);
    return true;
  } catch (err) {
    recordFailedStep(err, tool, stepName, { files: 0, bytes: 0, rate: "MB/s" }, "init failed");
    return false;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`mode ${mode}; data in ${dataDir}; ${cpus().length} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB`);
  const timeBinary = await ensureGnuTime(log);
  if (flags.cold) await dropPageCache();
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  if (flags.s3) {
    s3 = await startS3Server(log);
    log(`repositories on the S3 server at ${s3.endpoint} (versitygw, POSIX backend on this disk)`);
  }
  const { tools, skipped } = await prepareTools();
  log("warm-up: each tool's commands once on a tiny data set (not measured)");
  await warmUpTools(
    tools,
    join(runDir, "warm-up"),
    (spec, label) => measure(timeBinary, spec, label),
    async (tool, repo) => {
      if (s3) await s3.createBucket(bucketFor(tool.name, repo));
      await measure(timeBinary, tool.init(repo), `${tool.name} init`);
    },
    log,
  );
  const largeSpec = { seed: "skiff-bench-1", totalBytes: sizes.largeBytes };
  const smallSpec = { seed: "skiff-bench-1", files: sizes.smallFiles };
  const smallDir = join(dataDir, mode === "million" ? "small-1000000" : `small-${sizes.smallFiles}`);
  const small = await ensureSmall(smallDir, smallSpec, log);
  const summary: Record<string, unknown> = {};

  if (mode === "million") {
    const backupStep = `${small.files.toLocaleString("en")} small files: backup`;
    for (const tool of tools) {
      const repo = join(runDir, tool.name, "repo-million");
      if (!(await initRepo(timeBinary, tool, repo, backupStep))) continue;
      const counts = { files: small.files, bytes: small.bytes, rate: "files/s" as const };
      const backedUp = await step(timeBinary, tool, backupStep, tool.backup(repo, small.dir), counts, repo, small.dir);
      if (tool.maintenance && backedUp) {
        const maintenanceCounts = { ...counts, rate: "none" as const };
        await step(timeBinary, tool, "repo maintenance --full of it", tool.maintenance(repo), maintenanceCounts, repo);
      }
    }
  } else {
    for (round = 1; round <= repeats; round++) {
      if (repeats > 1) log(`round ${round} of ${repeats}`);
      await standardRound({
        tools,
        small,
        largeDir: join(dataDir, `large-${sizes.largeBytes}`),
        largeSpec,
        runDir,
        round,
        repeats,
        summary,
        log,
        step: (tool, stepName, spec, counts, repo, reads) =>
          step(timeBinary, tool, stepName, spec, counts, repo, reads),
        initRepo: (tool, repo, stepName) => initRepo(timeBinary, tool, repo, stepName),
      });
    }
  }

  // Ratios compare Skiff's default with the other tools; skiff-zstd is shown for what compression costs.
  const peers = tools.map((t) => t.name).filter((n) => !n.startsWith("skiff"));
  const shown = repeats > 1 ? medianOfRounds(rows) : rows;
  const text = renderReport({
    mode,
    tools: tools.map((t) => `${t.name} ${t.version}`),
    skipped: skipped.map((s) => `${s.name} (${s.reason})`),
    machine: `${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    repositories: s3 ? "on a local S3 server (versitygw over this disk)" : "local filesystem",
    repeats,
    cold: flags.cold ?? false,
    rows: shown,
    peers,
    restoreChecks: (summary.restoreVerification as Record<string, string> | undefined) ?? {},
    memoryTargetMB: mode === "million" ? 300 : undefined,
    failures,
    seconds: (Date.now() - started) / 1000,
  });
  console.log(text);
  const ratios: Record<string, Record<string, number | undefined>> = {};
  for (const stepName of new Set(rows.map((r) => r.step))) {
    ratios[stepName] = Object.fromEntries(peers.map((p) => [p, speedRatio(shown, stepName, p)]));
  }
  const base = join(dataDir, `results-${mode}${s3 ? "-s3" : ""}${flags.cold ? "-cold" : ""}`);
  await writeFile(`${base}.txt`, `${text}\n`);
  const tooling = tools.map((t) => ({ name: t.name, version: t.version }));
  const medians = repeats > 1 ? shown : undefined;
  const document = { mode, date: new Date().toISOString(), tools: tooling, skipped, repeats, rows, medians, ratios };
  await writeFile(`${base}.json`, `${JSON.stringify({ ...document, failures, ...summary }, null, 2)}\n`);
  log(`written ${base}.txt and ${base}.json`);
}

try {
  await main();
} finally {
  await s3?.stop();
}
