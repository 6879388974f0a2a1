/**
 * The committed policy.skiff.dev CRDs are exactly what `npm run gen:crds` generates from the policy JSON Schema,
 * and the conversion to OpenAPI keeps the schema structural and keeps its rules.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { generateAllCrdFiles, toStructural } from "../../../scripts/gen-crds.ts";
import { policyKinds } from "../../../src/api/policy/types.ts";

const crdDir = fileURLToPath(new URL("../../../manifests/crds/", import.meta.url));
type Node = Record<string, unknown>;

/** Paths breaking the apiserver's structural rules: untyped nodes, and type/description/additionalProperties in junctors. */
function structuralViolations(node: Node, path: string, inJunctor = false): string[] {
  const found: string[] = [];
  if (inJunctor) {
    for (const key of ["type", "description", "additionalProperties", "default", "nullable"]) {
      if (key in node) found.push(`${path}: ${key} inside a junctor`);
    }
  } else if (!node.type && !node["x-kubernetes-preserve-unknown-fields"]) found.push(`${path}: no type`);
  if (node.additionalProperties === false) found.push(`${path}: additionalProperties false`);
  for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Node>)) {
    found.push(...structuralViolations(child, `${path}.${key}`, inJunctor));
  }
  if (node.items) found.push(...structuralViolations(node.items as Node, `${path}[]`, inJunctor));
  if (typeof node.additionalProperties === "object") {
    found.push(...structuralViolations(node.additionalProperties as Node, `${path}{}`, inJunctor));
  }
  for (const junctor of ["allOf", "anyOf", "oneOf"]) {
    for (const [i, child] of ((node[junctor] ?? []) as Node[]).entries()) {
      found.push(...structuralViolations(child, `${path}.${junctor}[${i}]`, true));
    }
  }
  if (node.not) found.push(...structuralViolations(node.not as Node, `${path}.not`, true));
  for (const key of ["if", "then", "else", "const", "$schema", "$id"]) {
    if (key in node) found.push(`${path}: ${key} is not OpenAPI`);
  }
  return found;
}

describe("policy.skiff.dev CRDs", () => {
  const generated = generateAllCrdFiles();
  const policyFiles = [...generated.keys()].filter((n) => n.startsWith("policy.skiff.dev_")).sort();
  const crd = (name: string) => parse(generated.get(name) ?? "");

  it("one CRD per policy kind, with the scope the webhook watches it in", () => {
    assert.deepEqual(policyFiles, [
      "policy.skiff.dev_backuppolicies.yaml",
      "policy.skiff.dev_clusterbackuppolicies.yaml",
    ]);
    const kinds = policyFiles.map((f) => crd(f).spec.names.kind).sort();
    assert.deepEqual(kinds, [...policyKinds].sort());
    assert.equal(crd("policy.skiff.dev_backuppolicies.yaml").spec.scope, "Namespaced");
    assert.equal(crd("policy.skiff.dev_clusterbackuppolicies.yaml").spec.scope, "Cluster");
  });

  it("committed manifests/crds/policy.skiff.dev_*.yaml equal the generated output (run `npm run gen:crds`)", async () => {
    const committed = (await readdir(crdDir)).filter((n) => n.startsWith("policy.skiff.dev_")).sort();
    assert.deepEqual(committed, policyFiles);
    for (const name of policyFiles) {
      assert.equal(await readFile(`${crdDir}${name}`, "utf8"), generated.get(name), `${name} is out of date`);
    }
  });

  it("is structural, serves v1alpha1 with a status subresource, a Ready condition and printer columns", () => {
    for (const name of policyFiles) {
      const [version, ...others] = crd(name).spec.versions;
      assert.equal(others.length, 0);
      assert.equal(version.name, "v1alpha1");
      assert.deepEqual(version.subresources, { status: {} });
      const root = version.schema.openAPIV3Schema;
      assert.deepEqual(structuralViolations(root, "root"), [], name);
      assert.deepEqual(root.properties.metadata, { type: "object" });
      const condition = root.properties.status.properties.conditions;
      assert.deepEqual(condition["x-kubernetes-list-map-keys"], ["type"]);
      assert.deepEqual(condition.items.properties.status.enum, ["True", "False", "Unknown"]);
      assert.deepEqual(
        version.additionalPrinterColumns.map((c: { name: string }) => c.name),
        ["Ready", "Reason", "Precedence", "Age"],
      );
      // The free-form JSON patch value is kept, not pruned.
      const patchItem = root.properties.spec.properties.mutate.items.properties.patch.items;
      assert.equal(patchItem.properties.value["x-kubernetes-preserve-unknown-fields"], true);
      assert.deepEqual(patchItem.properties.op, { type: "string", enum: ["add", "replace", "remove", "test"] });
    }
  });

  it("converts const, enum, {} and if/then, and refuses keywords it cannot convert", () => {
    assert.deepEqual(toStructural({ const: "x" }, "a"), { enum: ["x"], type: "string" });
    assert.deepEqual(toStructural({ enum: [1, 2] }, "a"), { enum: [1, 2], type: "integer" });
    assert.deepEqual(toStructural({}, "a"), { "x-kubernetes-preserve-unknown-fields": true, nullable: true });
    assert.deepEqual(
      toStructural(
        {
          type: "object",
          additionalProperties: false,
          properties: { op: { enum: ["a", "b"] } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema keyword
          allOf: [{ if: { properties: { op: { const: "a" } } }, then: { required: ["v"] } }],
        },
        "a",
      ),
      {
        type: "object",
        properties: { op: { enum: ["a", "b"], type: "string" } },
        allOf: [{ anyOf: [{ not: { properties: { op: { enum: ["a"] } } } }, { required: ["v"] }] }],
      },
    );
    assert.throws(
      () => toStructural({ type: "object", patternProperties: {} }, "spec.x"),
      /spec\.x: .*patternProperties/,
    );
    assert.throws(() => toStructural({ enum: ["a", 1] }, "spec.y"), /spec\.y: an enum mixing types/);
    assert.throws(() => toStructural({ minLength: 1 }, "spec.z"), /spec\.z: a node without a type/);
  });
});
