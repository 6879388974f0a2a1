import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import "../../../src/cli/register.ts";
import { describeError, runCli } from "../../../src/cli/run.ts";
import { skiffVersion } from "../../../src/version.ts";

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    text: () => chunks.join(""),
  };
}

async function cli(...argv: string[]) {
  const out = capture();
  const err = capture();
  const code = await runCli({ argv, stdout: out.stream, stderr: err.stream, env: {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe("skiff CLI", () => {
  it("prints the package version", async () => {
    const r = await cli("--version");
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), skiffVersion);
    assert.match(skiffVersion, /^\d+\.\d+\.\d+/);
  });

  it("lists the commands in --help", async () => {
    const r = await cli("--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Usage: skiff <command>/);
    assert.match(r.stdout, /--version/);
  });

  it("rejects an unknown command with exit code 2 and a hint", async () => {
    const r = await cli("frobnicate");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'.*skiff --help/);
  });

  it("describes an error with its causes", () => {
    const err = new Error("could not open repository", { cause: new Error("wrong password") });
    assert.equal(describeError(err), "could not open repository: caused by: wrong password");
  });
});
