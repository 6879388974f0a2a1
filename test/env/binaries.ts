/**
 * Finds or builds the real server binaries the tests run against.
 *
 * Order of precedence, as envtest users expect:
 *   1. TEST_ASSET_<NAME> (a single binary, e.g. TEST_ASSET_KUBE_APISERVER),
 *   2. KUBEBUILDER_ASSETS (a folder holding kube-apiserver, etcd, ...),
 *   3. the project's cache ($SKIFF_CACHE_DIR or ~/.cache/skiff/bin/<name>-<version>/), built on first use
 *      from the published Go modules at the versions pinned in versions.ts.
 */
import { spawn } from "node:child_process";
import { access, constants, copyFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { versions } from "./versions.ts";

export type Component = "kube-apiserver" | "kube-controller-manager" | "etcd" | "versitygw";

export const allComponents: readonly Component[] = ["etcd", "versitygw", "kube-apiserver", "kube-controller-manager"];

/** The environment variable that points at a prebuilt binary for a component. */
export function assetVariable(component: Component): string {
  return `TEST_ASSET_${component.toUpperCase().replaceAll("-", "_")}`;
}

const here = dirname(fileURLToPath(import.meta.url));

export function cacheRoot(): string {
  return process.env.SKIFF_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "skiff");
}

export function versionOf(component: Component): string {
  if (component === "etcd") return versions.etcd;
  if (component === "versitygw") return versions.versitygw;
  return versions.kubernetes;
}

export function cachedBinaryPath(component: Component): string {
  return join(cacheRoot(), "bin", `${component}-${versionOf(component)}`, component);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where a binary would come from without building, or undefined when it has to be built. */
export async function locateBinary(component: Component): Promise<string | undefined> {
  const envName = assetVariable(component);
  const single = process.env[envName];
  if (single) {
    if (await isExecutable(single)) return single;
    throw new Error(`${envName}=${single} is not an executable file`);
  }
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && (await isExecutable(join(assets, component)))) return join(assets, component);
  const cached = cachedBinaryPath(component);
  return (await isExecutable(cached)) ? cached : undefined;
}

/** Returns the binary's path, building it into the cache when no other source has it. */
export async function ensureBinary(component: Component, log: (line: string) => void = () => {}): Promise<string> {
  const found = await locateBinary(component);
  if (found) return found;
  const release = await acquireBuildLock(component, log);
  try {
    // Another process may have built it while this one waited for the lock.
    const builtMeanwhile = await locateBinary(component);
    if (builtMeanwhile) return builtMeanwhile;
    log(`building ${component} ${versionOf(component)} from its Go module (first run only; cached afterwards)`);
    await buildComponent(component, log);
    return cachedBinaryPath(component);
  } finally {
    await release();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One builder per component across processes (test runs may race): the lock file holds the builder's pid; a
 * second process waits until it is gone. A lock whose pid is dead is stale and taken over.
 */
function acquireBuildLock(component: Component, log: (line: string) => void): Promise<() => Promise<void>> {
  const lockFile = join(cacheRoot(), "build", `${component}-${versionOf(component)}.lock`);
  return acquireFileLock(lockFile, (holder) =>
    log(`waiting for process ${holder} to finish building ${component} (lock ${lockFile})`),
  );
}

/** Takes an exclusive lock file (waiting while a live process holds it); resolves to its release function. */
export async function acquireFileLock(
  lockFile: string,
  onWait: (holderPid: number) => void = () => {},
  pollMs = 1000,
): Promise<() => Promise<void>> {
  await mkdir(dirname(lockFile), { recursive: true });
  let announced = false;
  for (;;) {
    try {
      await writeFile(lockFile, String(process.pid), { flag: "wx" });
      return () => rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    // An empty file is a lock being written this instant: treat it as held.
    const holder = Number.parseInt(await readFile(lockFile, "utf8").catch(() => ""), 10);
    if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
      await rm(lockFile, { force: true });
      continue;
    }
    if (!announced) {
      onWait(holder);
      announced = true;
    }
    await sleep(pollMs);
  }
}

const kubernetesModule = "k8s.io/kubernetes";

async function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => chunks.push(d));
    child.on("error", (err) => {
      const hint =
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? `'${cmd}' was not found on PATH. Install Go, or supply prebuilt binaries with KUBEBUILDER_ASSETS=<dir> or TEST_ASSET_<NAME>=<file>.`
          : err.message;
      reject(new Error(hint, { cause: err }));
    });
    child.on("close", async (code) => {
      const output = Buffer.concat(chunks).toString("utf8");
      await writeFile(logFile, output, { flag: "a" }).catch(() => {});
      if (code === 0) return resolve();
      const tail = output.trim().split("\n").slice(-25).join("\n");
      reject(
        new Error(
          `'${cmd} ${args.join(" ")}' failed with exit code ${code} in ${cwd} (full log: ${logFile}):\n${tail}\n` +
            "To skip the build, supply prebuilt binaries with KUBEBUILDER_ASSETS=<dir> or TEST_ASSET_<NAME>=<file>.",
        ),
      );
    });
  });
}

/** Reads the tag's go.mod from the module cache (downloading it if needed). */
async function kubernetesGoMod(workDir: string, env: NodeJS.ProcessEnv, logFile: string): Promise<string> {
  const out: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn("go", ["mod", "download", "-json", `${kubernetesModule}@${versions.kubernetes}`], {
      cwd: workDir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => out.push(d));
    child.on("error", (err) =>
      reject(new Error("'go' was not found on PATH. Install Go, or set KUBEBUILDER_ASSETS.", { cause: err })),
    );
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`go mod download ${kubernetesModule}@${versions.kubernetes} failed: ${Buffer.concat(out)}`)),
    );
  });
  const info = JSON.parse(Buffer.concat(out).toString("utf8")) as { GoMod: string };
  await writeFile(logFile, `kubernetes go.mod: ${info.GoMod}\n`, { flag: "a" });
  return readFile(info.GoMod, "utf8");
}

/**
 * The wrapper module for a k8s.io/kubernetes command: every ./staging replace of the tag becomes a replace to
 * the published v0.N.P staging module (a missing one fails with "unknown revision v0.0.0").
 */
export function kubernetesWrapperGoMod(moduleName: string, tagGoMod: string, kubeVersion: string): string {
  const goLine = tagGoMod.match(/^go\s+(\S+)/m)?.[1] ?? "1.24";
  const godebug = tagGoMod.match(/^godebug\s+.*$/m)?.[0];
  const stagingVersion = kubeVersion.replace(/^v1\./, "v0.");
  const staged = [...tagGoMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map((m) => m[1]);
  if (staged.length === 0) throw new Error(`no ./staging replaces found in the go.mod of kubernetes ${kubeVersion}`);
  const lines = [`module ${moduleName}`, "", `go ${goLine}`, ""];
  if (godebug) lines.push(godebug, "");
  lines.push(`require ${kubernetesModule} ${kubeVersion}`, "", "replace (");
  for (const mod of staged.sort()) lines.push(`\t${mod} => ${mod} ${stagingVersion}`);
  lines.push(")", "");
  return lines.join("\n");
}

async function buildComponent(component: Component, log: (line: string) => void): Promise<void> {
  const version = versionOf(component);
  const workDir = join(cacheRoot(), "build", `${component}-${version}`);
  const logFile = join(cacheRoot(), "build", `${component}-${version}.log`);
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" };

  let ldflags = "-s -w";
  let tags: string[] = [];
  let pkg = ".";
  if (component === "kube-apiserver" || component === "kube-controller-manager") {
    const tagGoMod = await kubernetesGoMod(workDir, env, logFile);
    await writeFile(join(workDir, "go.mod"), kubernetesWrapperGoMod(`skiff.test/${component}`, tagGoMod, version));
    await copyFile(join(here, "go", component, "main.go"), join(workDir, "main.go"));
    const [major, minor] = version.replace(/^v/, "").split(".");
    const x = (pkgPath: string) => [
      `-X ${pkgPath}.gitVersion=${version}`,
      `-X ${pkgPath}.gitMajor=${major}`,
      `-X ${pkgPath}.gitMinor=${minor}`,
      `-X ${pkgPath}.gitTreeState=clean`,
    ];
    ldflags = [ldflags, ...x("k8s.io/component-base/version"), ...x("k8s.io/client-go/pkg/version")].join(" ");
    tags = ["selinux", "notest"];
  } else if (component === "etcd") {
    await writeFile(
      join(workDir, "go.mod"),
      `module skiff.test/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 ${version}\n`,
    );
    await copyFile(join(here, "go", "etcd", "main.go"), join(workDir, "main.go"));
  } else {
    await writeFile(
      join(workDir, "go.mod"),
      `module skiff.test/versitygw\n\ngo 1.25.0\n\nrequire github.com/versity/versitygw ${version}\n`,
    );
    await writeFile(
      join(workDir, "tools.go"),
      '//go:build tools\n\npackage tools\n\nimport _ "github.com/versity/versitygw/cmd/versitygw"\n',
    );
    pkg = "github.com/versity/versitygw/cmd/versitygw";
  }
  await run("go", ["mod", "tidy"], workDir, env, logFile);
  const output = cachedBinaryPath(component);
  await mkdir(dirname(output), { recursive: true });
  const partial = `${output}.partial-${process.pid}`;
  const args = ["build", "-trimpath", "-o", partial, "-ldflags", ldflags];
  if (tags.length) args.push("-tags", tags.join(","));
  args.push(pkg);
  await run("go", args, workDir, env, logFile);
  // Rename last, so an interrupted build never leaves a binary that looks complete.
  await rename(partial, output);
  log(`built ${component} ${version} -> ${output}`);
}
