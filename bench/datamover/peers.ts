/**
 * Gets the peer tools: kopia built from its Go module (cached per version, built under a lock so two runs do
 * not race), restic and GNU time from Debian's packages (installed when missing).
 */
import { spawn } from "node:child_process";
import { access, constants, mkdir, open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cacheRoot } from "../../test/env/binaries.ts";

/**
 * Velero 1.15 vendors kopia v0.17.0, but this project's Go module proxy refuses that version (and v0.18.0),
 * so the benchmark uses v0.16.0, the newest it serves. Its format, splitter (DYNAMIC-4M-BUZHASH), hash and
 * encryption defaults are the ones Velero configures. Override with SKIFF_BENCH_KOPIA_VERSION.
 */
export const kopiaVersion = process.env.SKIFF_BENCH_KOPIA_VERSION ?? "v0.16.0";
const kopiaModule = "github.com/kopia/kopia";

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

export function runQuiet(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => out.push(d));
    child.on("error", (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`, { cause: err })));
    child.on("close", (code) => {
      const text = Buffer.concat(out).toString("utf8");
      if (code === 0) resolve(text);
      else
        reject(
          new Error(
            `'${cmd} ${args.join(" ")}' exited with ${code}:\n${text.trim().split("\n").slice(-20).join("\n")}`,
          ),
        );
    });
  });
}

/** Holds an exclusive lock file (with our pid) while `body` runs; a lock whose process is gone is taken over. */
async function withLock<T>(path: string, body: () => Promise<T>, log: (line: string) => void): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  for (let waited = 0; ; waited++) {
    try {
      const handle = await open(path, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      let alive = false;
      try {
        if (holder > 0) process.kill(holder, 0);
        alive = holder > 0;
      } catch {}
      if (!alive) {
        await rm(path, { force: true });
        continue;
      }
      if (waited === 0) log(`waiting for process ${holder}, which is building kopia (lock ${path})`);
      await sleep(2000);
    }
  }
  try {
    return await body();
  } finally {
    await rm(path, { force: true });
  }
}

/**
 * Replace directives of a dependency's go.mod are ignored when it is built as a dependency, so the wrapper
 * module repeats them. Local-path replaces cannot be repeated and are reported.
 */
export function wrapperGoMod(tagGoMod: string, version: string): string {
  const goLine = tagGoMod.match(/^go\s+(\S+)/m)?.[1] ?? "1.22";
  const replaces: string[] = [];
  const block = tagGoMod.match(/^replace\s*\(([\s\S]*?)^\)/m)?.[1] ?? "";
  const single = [...tagGoMod.matchAll(/^replace\s+([^(\s].*)$/gm)].map((m) => m[1]!);
  for (const line of [...block.split("\n"), ...single].map((l) => l.replace(/\/\/.*$/, "").trim()).filter(Boolean)) {
    const target = line.split("=>")[1]?.trim() ?? "";
    if (target.startsWith(".") || target.startsWith("/")) {
      throw new Error(
        `kopia ${version}'s go.mod replaces a module with a local path (${line}); it cannot be built as a module`,
      );
    }
    replaces.push(line);
  }
  const lines = [`module skiff.bench/kopia`, "", `go ${goLine}`, "", `require ${kopiaModule} ${version}`, ""];
  if (replaces.length) lines.push("replace (", ...replaces.map((r) => `\t${r}`), ")", "");
  return lines.join("\n");
}

export function kopiaBinaryPath(): string {
  return join(cacheRoot(), "bin", `kopia-${kopiaVersion}`, "kopia");
}

export async function ensureKopia(log: (line: string) => void): Promise<string> {
  const binary = process.env.SKIFF_BENCH_KOPIA ?? kopiaBinaryPath();
  if (await isExecutable(binary)) return binary;
  return withLock(
    join(cacheRoot(), "build", `kopia-${kopiaVersion}.lock`),
    async () => {
      if (await isExecutable(binary)) return binary; // built by whoever held the lock
      log(`building kopia ${kopiaVersion} from its Go module (first run only; cached in ${dirname(binary)})`);
      const workDir = join(cacheRoot(), "build", `kopia-${kopiaVersion}`);
      await rm(workDir, { recursive: true, force: true });
      await mkdir(workDir, { recursive: true });
      const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" };
      const info = JSON.parse(
        await runQuiet("go", ["mod", "download", "-json", `${kopiaModule}@${kopiaVersion}`], { cwd: workDir, env }),
      ) as { GoMod?: string; Error?: string };
      if (!info.GoMod) throw new Error(`go mod download ${kopiaModule}@${kopiaVersion}: ${info.Error ?? "no go.mod"}`);
      await writeFile(join(workDir, "go.mod"), wrapperGoMod(await readFile(info.GoMod, "utf8"), kopiaVersion));
      await writeFile(join(workDir, "tools.go"), `//go:build tools\n\npackage tools\n\nimport _ "${kopiaModule}"\n`);
      await runQuiet("go", ["mod", "tidy"], { cwd: workDir, env });
      await mkdir(dirname(binary), { recursive: true });
      const partial = `${binary}.partial-${process.pid}`;
      const ldflags = `-s -w -X ${kopiaModule}/repo.BuildVersion=${kopiaVersion.replace(/^v/, "")} -X ${kopiaModule}/repo.BuildInfo=skiff-bench`;
      await runQuiet("nice", ["go", "build", "-trimpath", "-o", partial, "-ldflags", ldflags, kopiaModule], {
        cwd: workDir,
        env,
      });
      await rename(partial, binary);
      log(`built kopia -> ${binary}`);
      return binary;
    },
    log,
  );
}

let aptUpdated = false;

async function aptInstall(pkg: string, log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error(`${pkg} is missing; install it with: sudo apt-get install -y ${pkg}`);
  if (!aptUpdated) {
    log("apt-get update");
    await runQuiet("apt-get", ["update"]);
    aptUpdated = true;
  }
  log(`apt-get install -y ${pkg}`);
  await runQuiet("apt-get", ["install", "-y", "--no-install-recommends", pkg], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

async function onPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

export async function ensureRestic(log: (line: string) => void): Promise<string> {
  const found = await onPath("restic");
  if (found) return found;
  await aptInstall("restic", log);
  const installed = await onPath("restic");
  if (!installed) throw new Error("restic is still not on PATH after apt-get install");
  return installed;
}

/** GNU time, for the peak resident set size of each run. */
export async function ensureGnuTime(log: (line: string) => void): Promise<string> {
  if (await isExecutable("/usr/bin/time")) return "/usr/bin/time";
  await aptInstall("time", log);
  return "/usr/bin/time";
}
