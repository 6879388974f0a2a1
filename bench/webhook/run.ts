/**
 * npm run bench:webhook — what the admission webhook costs.
 *
 *   1. the policy engine in-process (evaluations/s, no HTTP), shipped + 20 generated CEL policies;
 *   2. HTTPS keep-alive load (autocannon) against the real server stack, once with a no-op evaluator and once
 *      with the policies: requests/s and p50/p99, and their ratio (= what the policies cost);
 *   3. an open-loop fixed rate of 1,000 requests/s against each (fixed-rate.ts), reporting p50/p99;
 *   4. the same with a 2-worker node:cluster (BENCH_WORKERS=2 to change, 1 to skip).
 * The load generator runs in this process and each server in a child process, so on a 2-core machine they
 * get one core each. BENCH_SECONDS sets the length of each run (default 10).
 */
import { spawn } from "node:child_process";
import { cp, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { pino } from "pino";
import { parseAdmissionReview } from "../../src/admission/codec.ts";
import { readPolicyFolder } from "../../src/admission/policy-files.ts";
import { PolicyStore } from "../../src/admission/policy-store.ts";
import { staticClusterView } from "../../src/policy/index.ts";
import { fixedRate } from "./fixed-rate.ts";
import { clusterObjects, generatedPolicies, INSTALL_NAMESPACE, reviewMix } from "./fixtures.ts";

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const clusterWorkers = Number(process.env.BENCH_WORKERS ?? 2);
const here = fileURLToPath(new URL(".", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

async function policyFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-bench-policies-"));
  for (const name of await readdir(join(root, "policies"))) {
    if (/\.ya?ml$/.test(name)) await cp(join(root, "policies", name), join(dir, name));
  }
  await writeFile(join(dir, "zz-generated.yaml"), generatedPolicies(20));
  return dir;
}

async function engineThroughput(dir: string) {
  const loaded = await readPolicyFolder(dir);
  if (loaded.errors.length > 0) throw new Error(`policy load errors: ${JSON.stringify(loaded.errors, null, 1)}`);
  const store = new PolicyStore({
    installNamespace: INSTALL_NAMESPACE,
    view: staticClusterView(clusterObjects, { synthesizeNamespaces: true }),
    logger: pino({ level: "warn" }),
    requiredSources: ["files"],
  });
  store.update("files", loaded);
  const work = reviewMix().map(({ path, body }) => {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) throw new Error(parsed.error.reason);
    return { phase: path === "/mutate" ? ("mutate" as const) : ("validate" as const), request: parsed.review.request };
  });
  const outcomes = work.map((w) => store.evaluate(w.request, w.phase));
  const started = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let n = 0;
  const deadline = started + BigInt(Math.min(seconds, 5)) * 1_000_000_000n;
  while (process.hrtime.bigint() < deadline) {
    for (const w of work) store.evaluate(w.request, w.phase);
    n += work.length;
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpuStart);
  const cpuSeconds = (used.user + used.system) / 1e6;
  return {
    policies: store.current().set?.policies.length ?? 0,
    perSecond: n / elapsed,
    perCpuSecond: n / cpuSeconds,
    outcomes,
  };
}

async function startServer(mode: "noop" | "policies", dir: string, workers: number) {
  const child = spawn(
    process.execPath,
    [join(here, "server.ts"), "--mode", mode, "--policy-dir", dir, "--workers", String(workers)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  // The child answers on stdout with one JSON line per message: {"port"} once, then {"cpu"} when asked.
  const waiters: ((message: { port?: number; cpu?: number; stallMaxMs?: number }) => void)[] = [];
  let buffered = "";
  child.stdout.on("data", (d: Buffer) => {
    buffered += d.toString();
    let nl = buffered.indexOf("\n");
    while (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith("{")) waiters.shift()?.(JSON.parse(line));
      nl = buffered.indexOf("\n");
    }
  });
  const next = () =>
    new Promise<{ port?: number; cpu?: number; stallMaxMs?: number }>((resolve, reject) => {
      waiters.push(resolve);
      child.once("exit", (code) => reject(new Error(`benchmark server exited with ${code}`)));
    });
  const port = (await next()).port as number;
  /** CPU time the server has used so far (µs), and its longest event-loop stall since last asked (ms). */
  const cpu = async () => {
    const reply = next();
    child.stdin.write("cpu\n");
    const { cpu, stallMaxMs } = await reply;
    return { cpu: cpu as number, stallMaxMs: stallMaxMs as number };
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return { port, stop, cpu };
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  total: number;
}

async function load(port: number, options: { connections: number; duration: number }): Promise<Figures> {
  const requests = reviewMix().map(({ path, body }) => ({
    method: "POST",
    path,
    headers: { "content-type": "application/json" },
    body,
  }));
  const result = await autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: options.connections,
    duration: options.duration,
    requests,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    total: result.requests.total,
  };
}

async function measure(mode: "noop" | "policies", dir: string, workers: number) {
  const server = await startServer(mode, dir, workers);
  try {
    await load(server.port, { connections: 16, duration: 2 }); // warm-up: JIT, TLS sessions
    const cpuBefore = (await server.cpu()).cpu;
    const max = await load(server.port, { connections: 16, duration: seconds });
    // Server CPU per review: the capacity figure that does not depend on what else runs on the machine.
    const cpuPerReview = ((await server.cpu()).cpu - cpuBefore) / max.total;
    const fixed = await fixedRate({ port: server.port, rate: 1000, seconds, requests: reviewMix() });
    const { stallMaxMs } = await server.cpu();
    return { max, fixed, cpuPerReview, stallMaxMs };
  } finally {
    await server.stop();
  }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const dir = await policyFolder();
try {
  const engine = await engineThroughput(dir);
  const verdicts = engine.outcomes.map((d) => (d.allowed ? (d.patch.length ? "patched" : "allowed") : "denied"));
  console.log(`policies loaded: ${engine.policies} (shipped + 20 generated); review mix: ${verdicts.join(", ")}`);
  console.log(
    `engine in-process: ${fmt(engine.perSecond)} evaluations/s wall clock, ${fmt(engine.perCpuSecond)} per CPU-second (no HTTP)`,
  );
  const rows: [string, Awaited<ReturnType<typeof measure>>][] = [];
  rows.push(["no-op handler, 1 process", await measure("noop", dir, 1)]);
  rows.push(["policies, 1 process", await measure("policies", dir, 1)]);
  if (clusterWorkers > 1)
    rows.push([`policies, ${clusterWorkers} workers`, await measure("policies", dir, clusterWorkers)]);
  console.log("");
  console.log(`HTTPS keep-alive, 16 connections, ${seconds}s per run (load generator in this process)`);
  console.log(
    "server                       max req/s   p50 ms  p99 ms  server CPU µs/review (= reviews/s per core) | 1,000/s p50/p99 ms  stall ms  errors",
  );
  for (const [name, r] of rows) {
    console.log(
      `${name.padEnd(28)} ${fmt(r.max.rps).padStart(9)} ${fmt(r.max.p50, 1).padStart(8)} ${fmt(r.max.p99, 1).padStart(7)}` +
        `  ${fmt(r.cpuPerReview).padStart(8)} (${fmt(1e6 / r.cpuPerReview)})`.padEnd(45) +
        `| ${`${fmt(r.fixed.p50, 2)} / ${fmt(r.fixed.p99, 2)}`.padStart(18)} ${fmt(r.stallMaxMs, 1).padStart(9)}` +
        ` ${String(r.max.errors + r.fixed.errors).padStart(7)}`,
    );
  }
  const noop = rows[0]?.[1].max.rps ?? 0;
  const policies = rows[1]?.[1].max.rps ?? 0;
  console.log(`\npolicies / no-op throughput: ${fmt(policies / noop, 2)}`);
  console.log("stall = longest event-loop delay in the server during the 1,000/s run (GC pauses, CPU contention)");
} finally {
  await rm(dir, { recursive: true, force: true });
}
