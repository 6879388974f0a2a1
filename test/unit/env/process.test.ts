import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { makeTempDir, removeTempDir, ServerStartError, startServer, waitUntilReady } from "../../env/process.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("server processes", () => {
  it("reports a crash on start with the process's own output", async () => {
    const dir = await makeTempDir("unit-process");
    try {
      const server = startServer({
        name: "crasher",
        binary: process.execPath,
        args: ["-e", "console.error('listen tcp 127.0.0.1:1: bind: address already in use'); process.exit(3)"],
        logDir: dir,
      });
      await assert.rejects(
        waitUntilReady(server, async () => false, 10_000, 20),
        (err: Error) => {
          assert.ok(err instanceof ServerStartError);
          assert.match(err.message, /crasher exited \(3\) before it was ready/);
          assert.match(err.output, /address already in use/);
          return true;
        },
      );
    } finally {
      await removeTempDir(dir);
    }
    assert.equal(existsSync(dir), false);
  });

  it("stops the whole process group, children included", async () => {
    const dir = await makeTempDir("unit-process");
    try {
      const pidFile = join(dir, "grandchild.pid");
      const script = `
        const { spawn } = require("node:child_process");
        const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
        require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(child.pid));
        process.on("SIGTERM", () => {}); // ignores the polite request: stop() must escalate
        setInterval(() => {}, 1000);`;
      const server = startServer({ name: "parent", binary: process.execPath, args: ["-e", script], logDir: dir });
      await waitUntilReady(
        server,
        async () => existsSync(pidFile) && (await readFile(pidFile, "utf8")) !== "",
        10_000,
        20,
      );
      const grandchild = Number(await readFile(pidFile, "utf8"));
      assert.ok(alive(grandchild));
      await server.stop(300);
      assert.notEqual(server.exitStatus(), undefined);
      for (let i = 0; i < 50 && alive(grandchild); i++) await sleep(20);
      assert.equal(alive(grandchild), false, "the grandchild went with its group");
    } finally {
      await removeTempDir(dir);
    }
  });
});

describe("guards", () => {
  it("remove servers and temp dirs even when their owner is killed with SIGKILL", async () => {
    const owner = `
      import { makeTempDir, startServer } from ${JSON.stringify(new URL("../../env/process.ts", import.meta.url).href)};
      const dir = await makeTempDir("unit-guard");
      const server = startServer({ name: "sleeper", binary: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"], logDir: dir });
      console.log(JSON.stringify({ dir, pid: server.pid }));
      setInterval(() => {}, 1000);`;
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, ["--input-type=module", "-e", owner], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve) =>
      child.stdout.once("data", (d: Buffer) => resolve(d.toString())),
    );
    const { dir, pid } = JSON.parse(line) as { dir: string; pid: number };
    assert.ok(existsSync(dir) && alive(pid));
    child.kill("SIGKILL");
    for (let i = 0; i < 100 && (existsSync(dir) || alive(pid)); i++) await sleep(20);
    assert.equal(alive(pid), false, "the server was killed by its guard");
    assert.equal(existsSync(dir), false, "the temp dir was removed by its guard");
  });
});
