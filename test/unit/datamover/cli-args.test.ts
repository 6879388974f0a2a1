import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseBackupArgs, parseRestoreArgs } from "../../../src/cli/data-mover-args.ts";
import { renderBar } from "../../../src/cli/data-mover-output.ts";

describe("data-mover backup flags", () => {
  it("parses its own flags", () => {
    const parsed = parseBackupArgs([
      "--source",
      "/data",
      "--tag",
      "pvc=a",
      "--tag=backup=b=1",
      "--parent",
      "auto",
      "--parallel",
      "3",
      "--json",
    ]);
    assert.ok(parsed.ok);
    assert.equal(parsed.flags.source, "/data");
    assert.deepEqual(parsed.flags.tags, { pvc: "a", backup: "b=1" });
    assert.equal(parsed.flags.parent, "auto");
    assert.equal(parsed.flags.parallel, 3);
    assert.equal(parsed.flags.json, true);
    assert.equal(parsed.flags.volumeMode, "Filesystem");
  });

  it("accepts Velero's --volume-path and --volume-mode", () => {
    const parsed = parseBackupArgs(["--volume-path=/uid", "--volume-mode=Block"]);
    assert.ok(parsed.ok);
    assert.equal(parsed.flags.source, "/uid");
    assert.equal(parsed.flags.volumeMode, "Block");
  });

  it("explains bad input", () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--source is required/],
      [["--source", "/d", "--volume-mode", "block"], /Filesystem or Block/],
      [["--source", "/d", "--tag", "novalue"], /key=value/],
      [["--source", "/d", "--parallel", "0"], /--parallel must be/],
      [["--source", "/d", "--parallel", "x"], /--parallel must be/],
      [["--source"], /needs a value/],
      [["--source", "/d", "stray"], /unexpected argument 'stray'/],
      [["--source", "/d", "--json=yes"], /takes no value/],
      [["--source", "/d", "--fast"], /unknown flag --fast/],
      [["--source", "/d", "--tag", "a=1", "--parent-match-tag", "b"], /not one of the --tag keys/],
    ];
    for (const [argv, message] of cases) {
      const parsed = parseBackupArgs(argv);
      assert.ok(!parsed.ok && "message" in parsed, argv.join(" "));
      assert.match(parsed.message, message);
    }
    assert.deepEqual(parseBackupArgs(["--help"]), { ok: false, help: true });
  });
});

describe("data-mover restore flags", () => {
  it("parses snapshot, target and switches", () => {
    const parsed = parseRestoreArgs(["--snapshot", "ab12", "--target", "/t", "--sparse", "--overwrite"]);
    assert.ok(parsed.ok);
    assert.equal(parsed.flags.snapshot, "ab12");
    assert.equal(parsed.flags.target, "/t");
    assert.equal(parsed.flags.sparse, true);
    assert.equal(parsed.flags.overwrite, true);
  });

  it("requires a snapshot and a target", () => {
    const noSnapshot = parseRestoreArgs(["--target", "/t"]);
    assert.ok(!noSnapshot.ok && "message" in noSnapshot && /--snapshot is required/.test(noSnapshot.message));
    const noTarget = parseRestoreArgs(["--snapshot", "x"]);
    assert.ok(!noTarget.ok && "message" in noTarget && /--target is required/.test(noTarget.message));
  });
});

describe("progress bar", () => {
  it("shows the fraction done and the rate", () => {
    const bar = renderBar({ bytesDone: 512 << 20, totalBytes: 1 << 30 }, 2, 10);
    assert.match(bar, /^\[#####\.\.\.\.\.\] {2}50\.0% 512\.0 MiB \/ 1\.0 GiB 256\.0 MiB\/s/);
    assert.match(renderBar({ bytesDone: 5, totalBytes: 0 }, 1, 4), /^\[\.\.\.\.\] {5}\?%/);
  });
});
