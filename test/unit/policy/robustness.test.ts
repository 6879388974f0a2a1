import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ClusterView,
  compilePolicySet,
  evaluateAdmission,
  type PolicyDocument,
  staticClusterView,
} from "../../../src/policy/index.ts";
import { buildRequest } from "../../../src/policy/simulate.ts";

const policy = (name: string, spec: Record<string, unknown>): PolicyDocument => ({
  apiVersion: "policy.skiff.dev/v1alpha1",
  kind: "ClusterBackupPolicy",
  metadata: { name },
  spec: { match: { resources: [{ group: "", kinds: ["ConfigMap"] }] }, ...spec } as PolicyDocument["spec"],
});

const configMap = (data: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "app" },
  data,
});

const paramsPolicy = (notFoundAction?: "Allow" | "Deny") =>
  policy("with-params", {
    params: { configMapRef: { name: "limits", key: "config.json" }, ...(notFoundAction ? { notFoundAction } : {}) },
    validate: [{ name: "max", expression: "size(object.data) <= params.maxKeys", message: "too many keys" }],
  });

test("params: a ConfigMap key's JSON becomes `params`", () => {
  const { set } = compilePolicySet([paramsPolicy()]);
  const view = staticClusterView([
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "limits", namespace: "skiff" },
      data: { "config.json": '{"maxKeys": 1}' },
    },
  ]);
  assert.equal(evaluateAdmission(set, buildRequest({ object: configMap({ a: "1" }) }), view, "validate").allowed, true);
  const denied = evaluateAdmission(set, buildRequest({ object: configMap({ a: "1", b: "2" }) }), view, "validate");
  assert.equal(denied.message, "policy with-params: too many keys");
});

test("params: missing params skip the policy by default, deny with notFoundAction Deny", () => {
  const view = staticClusterView([]);
  const request = buildRequest({ object: configMap({ a: "1", b: "2" }) });
  const skipped = evaluateAdmission(compilePolicySet([paramsPolicy()]).set, request, view, "validate");
  assert.equal(skipped.allowed, true);
  assert.equal(skipped.results[0]?.outcome, "skip");
  const denied = evaluateAdmission(compilePolicySet([paramsPolicy("Deny")]).set, request, view, "validate");
  assert.equal(denied.allowed, false);
  assert.match(denied.message ?? "", /params ConfigMap skiff\/limits not found/);
});

test("params: invalid JSON in the params ConfigMap is an error under the failure policy", () => {
  const view = staticClusterView([
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "limits", namespace: "skiff" },
      data: { "config.json": "{oops" },
    },
  ]);
  const decision = evaluateAdmission(
    compilePolicySet([paramsPolicy()]).set,
    buildRequest({ object: configMap() }),
    view,
    "validate",
  );
  assert.equal(decision.allowed, false);
  assert.equal(decision.code, 500);
  assert.match(decision.message ?? "", /not valid JSON/);
});

test("the per-request cost limit spans policies", () => {
  const spin = (name: string) =>
    policy(name, {
      validate: [
        { name: "spin", expression: "object.data.items.split(',').all(a, object.data.items.split(',').all(b, true))" },
      ],
    });
  const items = Array.from({ length: 60 }, (_, i) => `v${i}`).join(",");
  const request = buildRequest({ object: configMap({ items }) });
  const limits = { perExpression: 15_000, perRequest: 20_000, maxStringLength: 1 << 20, maxListLength: 100_000 };
  const one = compilePolicySet([spin("a")], { costLimits: limits }).set;
  assert.equal(evaluateAdmission(one, request, staticClusterView([]), "validate").allowed, true);
  const two = compilePolicySet([spin("a"), spin("b")], { costLimits: limits }).set;
  const decision = evaluateAdmission(two, request, staticClusterView([]), "validate");
  assert.equal(decision.allowed, false);
  assert.match(decision.message ?? "", /policy b: spin: request exceeded its total cost limit/);
});

test("a string that grows past the size limit stops the expression", () => {
  const { set } = compilePolicySet(
    [
      policy("grow", {
        validate: [
          {
            name: "g",
            expression:
              "cel.bind(a, object.data.s + object.data.s, cel.bind(b, a + a, cel.bind(c, b + b, size(c + c) > 0)))",
          },
        ],
      }),
    ],
    { costLimits: { perExpression: 1000, perRequest: 1000, maxStringLength: 1000, maxListLength: 1000 } },
  );
  const decision = evaluateAdmission(
    set,
    buildRequest({ object: configMap({ s: "x".repeat(100) }) }),
    staticClusterView([]),
    "validate",
  );
  assert.equal(decision.allowed, false);
  assert.match(decision.message ?? "", /string grew past 1000/);
});

test("never throws: malformed requests, deep objects, a failing cluster view", () => {
  const { set } = compilePolicySet([policy("p", { validate: [{ name: "ok", expression: "true" }] })]);
  const view = staticClusterView([]);
  for (const request of [null, 42, {}, { operation: "MAKE" }, { operation: "CREATE", kind: {} }]) {
    const decision = evaluateAdmission(set, request, view, "validate");
    assert.equal(decision.allowed, false);
    assert.equal(decision.code, 400);
  }
  let deep: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < 200; i++) deep = { nested: deep };
  const deepDecision = evaluateAdmission(
    set,
    buildRequest({ object: { ...configMap(), extra: deep } }),
    view,
    "validate",
  );
  assert.equal(deepDecision.allowed, false);
  assert.match(deepDecision.message ?? "", /nested deeper than 100/);
  const broken: ClusterView = {
    getNamespace() {
      throw new Error("cache not synced");
    },
    getResource() {
      return undefined;
    },
  };
  const viewDecision = evaluateAdmission(set, buildRequest({ object: configMap() }), broken, "validate");
  assert.equal(viewDecision.allowed, false);
  assert.match(viewDecision.message ?? "", /cache not synced/);
});

test("a failing variable only matters when it is used", () => {
  const { set } = compilePolicySet([
    policy("vars", {
      variables: [
        { name: "broken", expression: "object.data.missing.deeper" },
        { name: "size", expression: "size(object.data)" },
      ],
      validate: [{ name: "small", expression: "variables.size < 3" }],
    }),
  ]);
  assert.equal(
    evaluateAdmission(set, buildRequest({ object: configMap() }), staticClusterView([]), "validate").allowed,
    true,
  );
});

test("messageExpression failures fall back to the static message", () => {
  const { set } = compilePolicySet([
    policy("msg", {
      validate: [{ name: "m", expression: "false", message: "static", messageExpression: "object.data.nope" }],
    }),
  ]);
  const decision = evaluateAdmission(set, buildRequest({ object: configMap() }), staticClusterView([]), "validate");
  assert.equal(decision.message, "policy msg: static");
});

test("compile errors: wrong result type and over-long expressions", () => {
  const { errors } = compilePolicySet([
    policy("types", { validate: [{ name: "t", expression: "'a string'" }] }),
    policy("long", { validate: [{ name: "l", expression: `true${" && true".repeat(700)}` }] }),
  ]);
  assert.equal(errors.length, 2);
  assert.match(errors[0]?.message ?? "", /must return bool, but returns string/);
  assert.match(errors[1]?.message ?? "", /must NOT have more than 5000 characters/);
});

test("duplicate rule names are compile errors", () => {
  const { set, errors } = compilePolicySet([
    policy("dupes", {
      validate: [
        { name: "same", expression: "true" },
        { name: "same", expression: "true", action: "Warn" },
      ],
    }),
  ]);
  assert.equal(set.policies.length, 0);
  assert.equal(errors[0]?.path, "/spec/validate/1/name");
  assert.match(errors[0]?.message ?? "", /duplicate rule name "same"/);
});

test("fuzzed requests never throw", () => {
  const { set } = compilePolicySet([
    policy("fuzz", {
      match: {
        resources: [{ group: "*", kinds: ["*"], subresources: ["*"] }],
        operations: ["*"],
        excludedNamespaces: [],
      },
      variables: [{ name: "n", expression: "object.metadata.name" }],
      validate: [{ name: "named", expression: "variables.n.size() < 10", messageExpression: "'long: ' + variables.n" }],
      mutate: [
        { name: "label", patch: [{ op: "add", path: "/metadata/labels/fuzz", valueExpression: "variables.n" }] },
      ],
    }),
  ]);
  const values: unknown[] = [null, 0, -1.5, "", "x", true, [], {}, [1, "a"], { a: { b: null } }, 2 ** 60];
  let seed = 7;
  const pick = <T>(list: T[]): T => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return list[seed % list.length] as T;
  };
  for (let i = 0; i < 300; i++) {
    const request = {
      uid: pick(values),
      operation: pick(["CREATE", "UPDATE", "DELETE", "CONNECT", "x", null]),
      kind: pick([{ group: "", version: "v1", kind: "ConfigMap" }, { kind: pick(values) }, pick(values)]),
      namespace: pick(["app", "", null, 5]),
      subResource: pick(["", "status", null]),
      object: pick([{ metadata: { name: pick(values) } }, { metadata: pick(values) }, pick(values)]),
      oldObject: pick(values),
      dryRun: pick(values),
    };
    for (const phase of ["mutate", "validate"] as const) {
      const decision = evaluateAdmission(set, request, staticClusterView([]), phase);
      assert.equal(typeof decision.allowed, "boolean");
      assert.ok(Array.isArray(decision.patch) && Array.isArray(decision.warnings));
    }
  }
});
