/**
 * Server processes and temp dirs that never outlive the test run.
 *
 * Each server is spawned detached, in its own process group, with its output going to a log file (not a pipe), and
 * unref'd: it does not keep a test process alive, and stopping it kills the whole group. Everything started or
 * created here is also registered for a synchronous last-chance cleanup on exit, SIGINT and SIGTERM, so a failed
 * or interrupted run leaves no process and no temp dir behind.
 *
 * Exit handlers do not run when this process is killed outright (SIGKILL, an OOM kill). For that case each server
 * and temp dir also gets a guard: a tiny `sh` in its own group blocked reading a pipe whose write end only this
 * process holds. The kernel closes the pipe however this process ends; the guard's read returns and it runs its
 * cleanup command. A normal stop kills the guard first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
const guards = new Map<string, ChildProcess>();
let handlersInstalled = false;

/** Starts a guard that runs `command` once this process has ended, however it ended. */
function guard(key: string, command: string[]): void {
  const child = spawn("sh", ["-c", 'read -r _; "$@"', "skiff-guard", ...command], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => {}); // No sh: the exit handlers still cover the ordinary cases.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  guards.set(key, child);
}

function dropGuard(key: string): void {
  const child = guards.get(key);
  guards.delete(key);
  if (child?.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function killGroupSync(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function cleanupSync(): void {
  for (const pid of liveGroups) killGroupSync(pid, "SIGKILL");
  liveGroups.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupSync);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanupSync();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}

/** A temp dir removed by removeTempDir, or at the latest when the process ends. */
export async function makeTempDir(prefix: string): Promise<string> {
  installHandlers();
  const dir = await mkdtemp(join(tmpdir(), `skiff-${prefix}-`));
  liveDirs.add(dir);
  guard(`dir:${dir}`, ["rm", "-rf", "--", dir]);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  liveDirs.delete(dir);
  dropGuard(`dir:${dir}`);
  await rm(dir, { recursive: true, force: true });
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** The exit code (or signal name) once the process has ended, else undefined. */
  exitStatus(): string | undefined;
  /** The last lines the process wrote (stdout and stderr share the log file). */
  outputTail(lines?: number): string;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  binary: string;
  args: string[];
  /** Directory for the log file `<name>.log`. */
  logDir: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startServer(options: StartOptions): ServerProcess {
  installHandlers();
  const logFile = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logFile, "a", 0o600);
  let child: ChildProcess;
  try {
    child = spawn(options.binary, options.args, {
      cwd: options.cwd ?? options.logDir,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${options.name} (${options.binary})`);
  const pid = child.pid;
  liveGroups.add(pid);
  // (dash's kill builtin takes no "--": a negative pid right after the signal means the group.)
  guard(`group:${pid}`, ["kill", "-9", `-${pid}`]);
  child.unref();
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      status = signal ?? String(code);
      resolve();
    });
    child.on("error", (err) => {
      status = err.message;
      resolve();
    });
  });
  return {
    name: options.name,
    pid,
    logFile,
    exitStatus: () => status,
    outputTail(lines = 30) {
      try {
        return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
    async stop(graceMs = 5000) {
      if (status === undefined) {
        killGroupSync(pid, "SIGTERM");
        const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
        if (timedOut) {
          killGroupSync(pid, "SIGKILL");
          await exited;
        }
      }
      // Children the server left in its group go too.
      killGroupSync(pid, "SIGKILL");
      liveGroups.delete(pid);
      dropGuard(`group:${pid}`);
    },
  };
}

/** Thrown when a server ends (or never gets ready); carries the server's own output for the report. */
export class ServerStartError extends Error {
  readonly output: string;
  constructor(message: string, output: string) {
    super(`${message}\n--- last output ---\n${output}`);
    this.name = "ServerStartError";
    this.output = output;
  }
}

/**
 * Polls ready() until it returns true. Fails early with the server's output when the process exits, and with the
 * last probe error when the timeout passes.
 */
export async function waitUntilReady(
  server: ServerProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    const status = server.exitStatus();
    if (status !== undefined) {
      throw new ServerStartError(`${server.name} exited (${status}) before it was ready`, server.outputTail());
    }
    try {
      if (await ready()) {
        // A probe can be answered by whoever grabbed the port first while this server failed to bind it.
        const after = server.exitStatus();
        if (after === undefined) return;
        throw new ServerStartError(`${server.name} exited (${after}) although its port answered`, server.outputTail());
      }
    } catch (err) {
      if (err instanceof ServerStartError) throw err;
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new ServerStartError(
        `${server.name} was not ready within ${timeoutMs} ms${lastError ? ` (last probe: ${lastError})` : ""}`,
        server.outputTail(),
      );
    }
    await sleep(intervalMs);
  }
}
