import assert from "node:assert/strict";
import { test } from "node:test";
import { applyOperations, formatPointer, parsePointer } from "../../../src/policy/patch.ts";
import type { PatchOperation } from "../../../src/policy/types.ts";

const base = () => ({ metadata: { name: "x", labels: { a: "1" } }, spec: { list: ["a", "b"], items: [{ n: 1 }] } });

const cases: {
  name: string;
  ops: PatchOperation[];
  result: "applied" | "test-failed" | "error";
  emitted?: PatchOperation[];
  check?: (o: ReturnType<typeof base>) => void;
}[] = [
  {
    name: "replace of an equal value emits nothing",
    ops: [{ op: "replace", path: "/metadata/name", value: "x" }],
    result: "applied",
    emitted: [],
  },
  {
    name: "replace of a missing member adds it",
    ops: [{ op: "replace", path: "/metadata/namespace", value: "ns" }],
    result: "applied",
    emitted: [{ op: "add", path: "/metadata/namespace", value: "ns" }],
  },
  {
    name: "add under missing parents adds the whole branch once",
    ops: [{ op: "add", path: "/metadata/annotations/x~1y/z", value: "v" }],
    result: "applied",
    emitted: [{ op: "add", path: "/metadata/annotations", value: { "x/y": { z: "v" } } }],
  },
  {
    name: "append skips a value already present",
    ops: [{ op: "add", path: "/spec/list/-", value: "b" }],
    result: "applied",
    emitted: [],
  },
  {
    name: "append adds a new value",
    ops: [{ op: "add", path: "/spec/list/-", value: "c" }],
    result: "applied",
    emitted: [{ op: "add", path: "/spec/list/-", value: "c" }],
    check: (o) => assert.deepEqual(o.spec.list, ["a", "b", "c"]),
  },
  {
    name: "insert at an index",
    ops: [{ op: "add", path: "/spec/list/0", value: "z" }],
    result: "applied",
    check: (o) => assert.deepEqual(o.spec.list, ["z", "a", "b"]),
  },
  {
    name: "remove of a missing path is a no-op",
    ops: [{ op: "remove", path: "/metadata/labels/missing" }],
    result: "applied",
    emitted: [],
  },
  {
    name: "remove of an existing member",
    ops: [{ op: "remove", path: "/metadata/labels/a" }],
    result: "applied",
    emitted: [{ op: "remove", path: "/metadata/labels/a" }],
  },
  {
    name: "test that holds lets the rest apply",
    ops: [
      { op: "test", path: "/spec/items/0/n", value: 1 },
      { op: "replace", path: "/spec/items/0/n", value: 2 },
    ],
    result: "applied",
    emitted: [{ op: "replace", path: "/spec/items/0/n", value: 2 }],
  },
  { name: "test that fails", ops: [{ op: "test", path: "/metadata/name", value: "y" }], result: "test-failed" },
  {
    name: "test of a missing path fails",
    ops: [{ op: "test", path: "/nope/deeper", value: 1 }],
    result: "test-failed",
  },
  { name: "index out of range is an error", ops: [{ op: "add", path: "/spec/list/7", value: "q" }], result: "error" },
  { name: "a scalar parent is an error", ops: [{ op: "add", path: "/metadata/name/x", value: 1 }], result: "error" },
  { name: "a relative path is an error", ops: [{ op: "add", path: "metadata", value: 1 }], result: "error" },
  {
    name: "all or nothing: a later error leaves the object untouched",
    ops: [
      { op: "add", path: "/metadata/labels/b", value: "2" },
      { op: "add", path: "/spec/list/9", value: "q" },
    ],
    result: "error",
  },
];

for (const c of cases) {
  test(c.name, () => {
    const input = base();
    const result = applyOperations(input, c.ops);
    assert.equal(result.kind, c.result, JSON.stringify(result));
    assert.deepEqual(input, base(), "the input object is never modified");
    if (result.kind === "applied") {
      if (c.emitted) assert.deepEqual(result.emitted, c.emitted);
      c.check?.(result.object as ReturnType<typeof base>);
      // Replaying the emitted operations on the input gives the same object (they are a valid patch).
      const replay = applyOperations(input, result.emitted);
      assert.equal(replay.kind, "applied");
      if (replay.kind === "applied") assert.deepEqual(replay.object, result.object);
    }
  });
}

test("pointer escaping round-trips ~0 and ~1", () => {
  assert.deepEqual(parsePointer("/a~1b/c~0d/~01"), ["a/b", "c~d", "~1"]);
  assert.equal(formatPointer(["a/b", "c~d", "~1"]), "/a~1b/c~0d/~01");
});
