/**
 * Runs one command and measures it: wall-clock seconds (from spawn to exit) and peak resident set size from
 * GNU time's %M (the largest RSS of the command's process; a tool's worker threads share it), and CPU seconds.
 *
 * Peak RSS counts the pages of the tool's own executable that it has touched, which for Node (a 120 MB binary) is
 * 45-60 MB and for the Go peers a few MB, and which varies with what the page cache holds. The largest anonymous
 * RSS (heap, stacks, buffers: the memory a tool allocates) is sampled from /proc every 20 ms as well, so the two
 * can be told apart.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Measured {
  seconds: number;
  peakRssBytes: number;
  /** The largest anonymous RSS seen, sampled (0 where /proc cannot be read). */
  peakAnonBytes: number;
  /** User + system CPU seconds of the command (all its threads). */
  cpuSeconds: number;
  stdout: string;
}

export interface CommandSpec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function measure(timeBinary: string, spec: CommandSpec, label: string): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), "skiff-bench-time-"));
  const timeFile = join(dir, "time");
  try {
    const started = performance.now();
    let peakAnonKiB = 0;
    const { code, signal, stdout, stderr } = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      stdout: string;
      stderr: string;
    }>((resolve, reject) => {
      const child = spawn(timeBinary, ["-f", "%M %U %S", "-o", timeFile, spec.cmd, ...spec.args], {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (d: Buffer) => out.push(d));
      child.stderr.on("data", (d: Buffer) => {
        // Keep only the tail: some tools print progress on every file.
        err.push(d);
        if (err.length > 200) err.splice(0, err.length - 100);
      });
      const sampler = setInterval(() => {
        peakAnonKiB = Math.max(peakAnonKiB, anonKiBOfChildren(child.pid));
      }, 20);
      child.on("error", (err) => {
        clearInterval(sampler);
        reject(err);
      });
      child.on("close", (exit, killedBy) => {
        clearInterval(sampler);
        resolve({
          code: exit,
          signal: killedBy,
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
        });
      });
    });
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) {
      // stderr says why; stdout's last lines say how far it got (progress lines can be many). A signal here
      // means GNU time itself was killed along with the command (a process-group kill, not the OOM killer).
      const tail = (text: string, n: number) => text.trim().split("\n").slice(-n).join("\n");
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      throw new Error(
        `${label}: '${spec.cmd} ${spec.args.join(" ")}' ${how}:\n${tail(stderr, 12)}\n${tail(stdout, 3)}`.trimEnd(),
      );
    }
    const timeOutput = await readFile(timeFile, "utf8");
    const [kib, user, system] = (timeOutput.trim().split("\n").pop() ?? "").split(" ").map(Number);
    if (!Number.isFinite(kib) || !Number.isFinite(user) || !Number.isFinite(system)) {
      throw new Error(`${label}: cannot read GNU time's output '${timeOutput}'`);
    }
    return {
      seconds,
      peakRssBytes: kib! * 1024,
      peakAnonBytes: peakAnonKiB * 1024,
      cpuSeconds: user! + system!,
      stdout,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** RssAnon of the processes GNU time (`pid`) started, in KiB: the measured tool (bin/skiff execs node in place). */
function anonKiBOfChildren(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter(Boolean);
    let total = 0;
    for (const child of children) {
      const status = readFileSync(`/proc/${child}/status`, "utf8");
      total += Number(/^RssAnon:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    }
    return total;
  } catch {
    // The process ended between the two reads, or /proc is not there.
    return 0;
  }
}
