/**
 * Applying a policy's patch operations so that the result is idempotent: operations state the desired value, and
 * an operation that would change nothing emits nothing. Missing parents are created (the API server's JSON patch
 * fails an `add` under a missing map), `remove` of a missing path is a no-op, appending (`/-`) skips a value the
 * list already holds, and `test` guards a rule (a failed test skips the whole rule).
 */

import { escapePointer, unescapePointer } from "./json-schema.ts";
import type { PatchOperation } from "./types.ts";

export type ApplyResult =
  | { kind: "applied"; object: unknown; emitted: PatchOperation[] }
  | { kind: "test-failed"; path: string }
  | { kind: "error"; message: string };

export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`JSON pointer "${pointer}" must start with "/"`);
  return pointer.slice(1).split("/").map(unescapePointer);
}

export function formatPointer(segments: string[]): string {
  return segments.map((s) => `/${escapePointer(s)}`).join("");
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b as object, k) && deepEqual((a as never)[k], (b as never)[k]));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return value !== null && typeof value === "object";
}

function arrayIndex(segment: string, length: number, allowEnd: boolean): number | undefined {
  if (segment === "-") return allowEnd ? length : undefined;
  if (!/^(0|[1-9][0-9]*)$/.test(segment)) return undefined;
  const i = Number(segment);
  return i < length || (allowEnd && i === length) ? i : undefined;
}

/** Applies operations to a deep copy of `object`; all or nothing. */
export function applyOperations(object: unknown, operations: PatchOperation[]): ApplyResult {
  let current = structuredClone(object);
  const emitted: PatchOperation[] = [];
  for (const operation of operations) {
    let segments: string[];
    try {
      segments = parsePointer(operation.path);
    } catch (err) {
      return { kind: "error", message: (err as Error).message };
    }
    if (segments.length === 0) {
      if (operation.op === "test") {
        if (!deepEqual(current, operation.value)) return { kind: "test-failed", path: operation.path };
        continue;
      }
      return { kind: "error", message: `"${operation.op}" of the whole object is not allowed` };
    }
    const result = applyOne(current, segments, operation);
    if (result.kind !== "applied") return result;
    current = result.object;
    emitted.push(...result.emitted);
  }
  return { kind: "applied", object: current, emitted };
}

function applyOne(root: unknown, segments: string[], operation: PatchOperation): ApplyResult {
  // Walk to the parent, noting the first missing ancestor.
  let parent: unknown = root;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i] as string;
    const child = childOf(parent, segment);
    if (child === undefined || child === null) {
      if (operation.op === "remove") return { kind: "applied", object: root, emitted: [] };
      if (operation.op === "test") return { kind: "test-failed", path: operation.path };
      if (child === null || !isContainer(parent)) {
        return {
          kind: "error",
          message: `cannot create ${formatPointer(segments.slice(0, i + 1))}: parent is not a map or list`,
        };
      }
      // Build the missing branch and add it in one operation.
      const rest = segments.slice(i + 1);
      const branch = buildBranch(rest, operation.value);
      if (branch === undefined) return { kind: "error", message: `cannot create list positions in ${operation.path}` };
      return addAt(root, parent, segment, segments.slice(0, i + 1), branch);
    }
    if (!isContainer(child)) {
      return { kind: "error", message: `${formatPointer(segments.slice(0, i + 1))} is not a map or list` };
    }
    parent = child;
  }
  const last = segments[segments.length - 1] as string;
  if (!isContainer(parent)) return { kind: "error", message: `parent of ${operation.path} is not a map or list` };
  const existing = childOf(parent, last);
  switch (operation.op) {
    case "test":
      return deepEqual(existing, operation.value)
        ? { kind: "applied", object: root, emitted: [] }
        : { kind: "test-failed", path: operation.path };
    case "remove": {
      if (existing === undefined) return { kind: "applied", object: root, emitted: [] };
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      return { kind: "applied", object: root, emitted: [{ op: "remove", path: formatPointer(segments) }] };
    }
    case "add":
    case "replace": {
      if (Array.isArray(parent) && last === "-") {
        if (parent.some((item) => deepEqual(item, operation.value)))
          return { kind: "applied", object: root, emitted: [] };
        return addAt(root, parent, last, segments, operation.value);
      }
      if (existing !== undefined && deepEqual(existing, operation.value)) {
        return { kind: "applied", object: root, emitted: [] };
      }
      // RFC 6902: `add` at a list index inserts; the equal-element check above keeps it idempotent.
      if (existing === undefined || (Array.isArray(parent) && operation.op === "add")) {
        return addAt(root, parent, last, segments, operation.value);
      }
      if (Array.isArray(parent)) parent[Number(last)] = structuredClone(operation.value);
      else parent[last] = structuredClone(operation.value);
      return {
        kind: "applied",
        object: root,
        emitted: [{ op: "replace", path: formatPointer(segments), value: operation.value }],
      };
    }
  }
}

function childOf(parent: unknown, segment: string): unknown {
  if (Array.isArray(parent)) {
    const i = arrayIndex(segment, parent.length, false);
    return i === undefined ? undefined : parent[i];
  }
  if (isContainer(parent) && Object.hasOwn(parent, segment)) return (parent as Record<string, unknown>)[segment];
  return undefined;
}

function buildBranch(rest: string[], value: unknown): unknown {
  let branch: unknown = structuredClone(value);
  for (let i = rest.length - 1; i >= 0; i--) {
    const segment = rest[i] as string;
    if (segment === "-" || segment === "0") branch = [branch];
    else if (/^[0-9]+$/.test(segment)) return undefined;
    else branch = { [segment]: branch };
  }
  return branch;
}

function addAt(root: unknown, parent: Container, segment: string, segments: string[], value: unknown): ApplyResult {
  if (Array.isArray(parent)) {
    const i = arrayIndex(segment, parent.length, true);
    if (i === undefined)
      return { kind: "error", message: `index ${segment} is out of range in ${formatPointer(segments)}` };
    parent.splice(i, 0, structuredClone(value));
  } else {
    parent[segment] = structuredClone(value);
  }
  return { kind: "applied", object: root, emitted: [{ op: "add", path: formatPointer(segments), value }] };
}
