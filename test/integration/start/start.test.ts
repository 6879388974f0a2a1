/**
 * `npm start` as a new user runs it: scripts/start.ts as a child process with a fresh HOME (so the real user's
 * repository is untouched; the server binaries still come from the shared cache). Checks what the printed
 * block promises, runs the printed backup commands, then stops it with SIGTERM and checks nothing is left.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { cacheRoot } from "../../env/binaries.ts";
import { httpsGet } from "../../env/https.ts";
import { loadKubeConfig } from "../../env/kubeconfig.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const run = promisify(execFile);

/** Resolves with everything printed once `marker` appears; rejects if the process ends first or time runs out. */
function waitForOutput(child: ChildProcess, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => done(new Error(`no "${marker}" within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes(marker)) done();
    };
    const onExit = (code: number | null) =>
      done(new Error(`npm start exited (${code}) before it was ready:\n${output}`));
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(output);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", onExit);
  });
}

function field(output: string, pattern: RegExp): string {
  const match = pattern.exec(output);
  assert.ok(match?.[1], `the output has no line matching ${pattern}:\n${output}`);
  return match[1];
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Pids of processes whose command line mentions one of the paths (this run's servers and the webhook). */
async function processesMentioning(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (paths.some((p) => cmdline.includes(p))) found.push(`${pid}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("npm start", () => {
  let dir: string;
  let child: ChildProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "skiff-start-test-"));
  });
  after(async () => {
    if (child?.exitCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the webhook and the self-check, offers working backup commands, and stops cleanly on SIGTERM", async () => {
    const home = join(dir, "home");
    await mkdir(home);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: home,
      XDG_DATA_HOME: join(home, "data"),
      XDG_STATE_HOME: join(home, "state"),
      XDG_CACHE_HOME: join(home, "cache"),
      // The binaries built for this machine (computed with the real HOME, before the override).
      SKIFF_CACHE_DIR: cacheRoot(),
    };
    // npm start starts its own servers, never the test run's shared ones.
    delete env.SKIFF_TEST_ENV;
    child = spawn(process.execPath, [join(root, "scripts", "start.ts")], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const output = await waitForOutput(child, "Ctrl-C stops everything", 240_000);
    let rest = "";
    child.stdout?.on("data", (c: Buffer) => {
      rest += c.toString("utf8");
    });
    child.stderr?.on("data", (c: Buffer) => {
      rest += c.toString("utf8");
    });

    assert.match(output, /Skiff is running/);
    assert.match(output, /self-check: OK: /);
    const kubeconfig = field(output, /export KUBECONFIG=(\S+)/);
    const apiPort = Number(field(output, /kube-apiserver:\s+https:\/\/127\.0\.0\.1:(\d+)/));
    const webhookUrl = field(output, /webhook:\s+(https:\/\/127\.0\.0\.1:\d+)\/mutate/);
    const s3Port = Number(field(output, /S3 endpoint:\s+http:\/\/127\.0\.0\.1:(\d+)/));
    const s3Credentials = field(output, /S3 endpoint:.*\(credentials (\S+)\)/);
    const caFile = field(output, /\(CA: (\S+)\)/);
    const webhookLog = field(output, /webhook log:\s+(\S+)/);
    const backups = [...output.matchAll(/back up:\s+(\S+\/bin\/skiff data-mover backup .+ --source DIR)$/gm)].map(
      (m) => m[1],
    );
    assert.equal(backups.length, 2, `one backup command per repository:\n${output}`);
    assert.ok(webhookLog.startsWith(home), "the webhook log is under the user's state dir");
    assert.doesNotMatch(output, /"level":/, "webhook log lines stay out of the terminal");

    // The webhook configurations point at the local webhook; the demo PVC was mutated.
    const kc = loadKubeConfig(kubeconfig);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const mutating = await admission.readMutatingWebhookConfiguration({ name: "skiff-policy-mutating" });
    const validating = await admission.readValidatingWebhookConfiguration({ name: "skiff-policy-validating" });
    for (const webhook of [...(mutating.webhooks ?? []), ...(validating.webhooks ?? [])]) {
      assert.match(webhook.clientConfig.url ?? "", new RegExp(`^${webhookUrl}/(mutate|validate)$`), webhook.name);
      assert.ok(webhook.clientConfig.caBundle, `${webhook.name} has a CA bundle`);
    }
    // The printed metrics URL answers with the printed CA.
    const metricsUrl = field(output, /metrics:\s+(https:\/\/\S+)/);
    const metrics = await httpsGet(metricsUrl, { caPem: await readFile(caFile, "utf8") });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /skiff_policies_loaded [1-9]/);
    const pvc = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedPersistentVolumeClaim({ namespace: "skiff-system", name: "demo-upload-backup-pvc" });
    assert.deepEqual(pvc.spec?.accessModes, ["ReadOnlyMany"]);
    assert.equal(pvc.spec?.storageClassName, "standard-backup");
    const configMap = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace: "skiff-system", name: "node-agent-config" });
    assert.equal(configMap.metadata?.labels?.["skiff.dev/config-type"], "node-agent");

    // The printed backup and restore commands work as printed, with both repositories.
    const restores = [...output.matchAll(/restore:\s+(\S+\/bin\/skiff data-mover restore .+ --target NEW_DIR)$/gm)].map(
      (m) => m[1] ?? "",
    );
    assert.equal(restores.length, 2, `one restore command per repository:\n${output}`);
    const source = join(dir, "source");
    await mkdir(source);
    await writeFile(join(source, "hello.txt"), "hello from npm start\n");
    for (const [i, command] of backups.entries()) {
      const { stdout } = await run("sh", ["-c", (command ?? "").replace(/ DIR$/, ` ${source}`)], { cwd: root, env });
      const snapshot = field(stdout, /"snapshotID":"([0-9a-f]+)"/);
      const target = join(dir, `restored-${i}`);
      const restore = (restores[i] ?? "").replace(" --snapshot ID ", ` --snapshot ${snapshot} `);
      await run("sh", ["-c", restore.replace(/ NEW_DIR$/, ` ${target}`)], { cwd: dir, env });
      assert.equal(await readFile(join(target, "hello.txt"), "utf8"), "hello from npm start\n");
    }

    // Where the servers keep their state: the process scan below looks for command lines naming these.
    const controlPlaneDir = join(kubeconfig, "..");
    const s3Dir = join(s3Credentials, "..");
    const certDir = join(caFile, "..");
    const repository = join(home, "data", "skiff", "repository");
    assert.ok((await processesMentioning([controlPlaneDir, s3Dir, certDir])).length >= 4, "servers and webhook run");

    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    assert.equal(code, 0, `npm start exited ${code}:\n${rest}`);
    for (const port of [apiPort, s3Port, Number(new URL(webhookUrl).port)]) {
      assert.equal(await portOpen(port), false, `port ${port} is closed after exit`);
    }
    // Group guards of stopped servers may take a moment to notice and end; anything else would be a leak.
    let leftovers = await processesMentioning([controlPlaneDir, s3Dir, certDir]);
    for (let i = 0; i < 50 && leftovers.length > 0; i++) {
      await sleep(100);
      leftovers = await processesMentioning([controlPlaneDir, s3Dir, certDir]);
    }
    assert.deepEqual(leftovers, []);
    for (const path of [controlPlaneDir, s3Dir, certDir]) assert.equal(await exists(path), false, `${path} removed`);
    assert.ok(await exists(join(repository, "..", "repository.password")), "the password file stays");
    assert.ok((await readdir(repository)).length > 0, "the filesystem repository stays");
    assert.match(await readFile(webhookLog, "utf8"), /SIGTERM received, shutting down/);
  });
});
