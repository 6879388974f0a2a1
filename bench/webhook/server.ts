/**
 * One benchmark server process: the real admission app and HTTPS stack with either the policies (shipped +
 * generated, loaded from a folder) or the no-op evaluator. With --workers 2 it forks a node:cluster of
 * workers sharing the port. Prints {"port": n} on stdout once listening.
 */
import cluster from "node:cluster";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createAdmissionListener } from "../../src/admission/app.ts";
import { CertificateHolder } from "../../src/admission/certificate-holder.ts";
import { createCA, createServingCertificate } from "../../src/admission/certs.ts";
import { noopEvaluator } from "../../src/admission/evaluator.ts";
import { createAdmissionMetrics } from "../../src/admission/metrics.ts";
import { readPolicyFolder } from "../../src/admission/policy-files.ts";
import { PolicyStore } from "../../src/admission/policy-store.ts";
import { startAdmissionServer } from "../../src/admission/server.ts";
import { staticClusterView } from "../../src/policy/index.ts";
import { clusterObjects, INSTALL_NAMESPACE } from "./fixtures.ts";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "policies" },
    "policy-dir": { type: "string" },
    workers: { type: "string", default: "1" },
    port: { type: "string", default: "0" },
  },
});
const workers = Number(values.workers);

/** What the server reports when asked: CPU time used (µs) and the longest event-loop stall since last asked. */
interface Usage {
  cpu: number;
  stallMaxMs: number;
}
const logger = pino({ level: "warn" });

if (workers > 1 && cluster.isPrimary) {
  // Workers need a fixed port to share; pick one from the OS first.
  const { createServer } = await import("node:net");
  const probe = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => probe.once("listening", r));
  const port = (probe.address() as import("node:net").AddressInfo).port;
  probe.close();
  let listening = 0;
  let pending: Usage[] = [];
  for (let i = 0; i < workers; i++) {
    cluster.fork({ BENCH_PORT: String(port) }).on("message", (message: Usage | string) => {
      if (message === "listening") {
        if (++listening === workers) process.stdout.write(`${JSON.stringify({ port })}\n`);
      } else if (typeof message === "object" && message.cpu !== undefined) {
        pending.push(message);
        if (pending.length === workers) {
          const total: Usage = {
            cpu: pending.reduce((a, b) => a + b.cpu, 0),
            stallMaxMs: Math.max(...pending.map((u) => u.stallMaxMs)),
          };
          process.stdout.write(`${JSON.stringify(total)}\n`);
          pending = [];
        }
      }
    });
  }
  // "cpu" on stdin: the CPU time (µs) all workers have used so far.
  process.stdin.on("data", () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.send("cpu");
  });
  process.on("SIGTERM", () => {
    const alive = Object.values(cluster.workers ?? {});
    let left = alive.length;
    for (const w of alive) {
      w?.once("exit", () => {
        if (--left === 0) process.exit(0);
      });
      w?.process.kill("SIGTERM");
    }
  });
} else {
  const now = new Date();
  const ca = createCA({ commonName: "bench CA", now, validityMs: 86_400_000 });
  const certificates = new CertificateHolder();
  certificates.set(
    createServingCertificate({ ca, commonName: "127.0.0.1", hosts: ["127.0.0.1"], now, validityMs: 86_400_000 }),
  );
  const metrics = createAdmissionMetrics();
  let evaluator = noopEvaluator;
  if (values.mode === "policies") {
    const store = new PolicyStore({
      installNamespace: INSTALL_NAMESPACE,
      view: staticClusterView(clusterObjects, { synthesizeNamespaces: true }),
      logger,
      metrics,
      requiredSources: ["files"],
    });
    const loaded = await readPolicyFolder(values["policy-dir"] as string);
    if (loaded.errors.length > 0) throw new Error(`policy errors: ${JSON.stringify(loaded.errors)}`);
    store.update("files", loaded);
    evaluator = store;
  }
  const app = createAdmissionListener({ evaluator, metrics, logger });
  const port = Number(process.env.BENCH_PORT ?? values.port);
  const server = await startAdmissionServer({ app, certificates, host: "127.0.0.1", port, logger });
  // The longest event-loop stall since the last report: garbage-collection pauses show up here.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpu = (): Usage => {
    const used = process.cpuUsage();
    const usage = { cpu: used.user + used.system, stallMaxMs: loopDelay.max / 1e6 };
    loopDelay.reset();
    return usage;
  };
  if (cluster.isWorker) {
    process.send?.("listening");
    process.on("message", (m) => {
      if (m === "cpu") process.send?.(cpu());
    });
  } else {
    process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
    // "cpu" on stdin: the CPU time (µs) this process has used so far.
    process.stdin.on("data", () => process.stdout.write(`${JSON.stringify(cpu())}\n`));
  }
  process.on("SIGTERM", () => void server.close(100).then(() => process.exit(0)));
}
