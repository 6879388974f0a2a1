import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ClusterView,
  compilePolicySet,
  evaluateAdmission,
  type PolicyDocument,
  parsePolicyDocuments,
  staticClusterView,
} from "../../../src/policy/index.ts";
import { buildRequest } from "../../../src/policy/simulate.ts";

const view: ClusterView = staticClusterView(
  [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "prod", labels: { env: "prod" } } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "dev", labels: { env: "dev" } } },
  ],
  { synthesizeNamespaces: true },
);

function policy(name: string, spec: Record<string, unknown>, extra: Partial<PolicyDocument> = {}): PolicyDocument {
  return {
    apiVersion: "policy.skiff.dev/v1alpha1",
    kind: "ClusterBackupPolicy",
    metadata: { name },
    spec: spec as unknown as PolicyDocument["spec"],
    ...extra,
  };
}

const denyAll = (name: string, match: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  policy(name, { match, validate: [{ name: "no", expression: "false", message: `denied by ${name}` }], ...more });

function compile(...policies: PolicyDocument[]) {
  const { set, errors } = compilePolicySet(policies);
  assert.deepEqual(errors, []);
  return set;
}

const pod = (namespace: string, labels: Record<string, string> = {}) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace, labels },
  spec: { containers: [{ name: "c", image: "i" }] },
});

describe("matching", () => {
  const cases: { name: string; match: Record<string, unknown>; request: Record<string, unknown>; denied: boolean }[] = [
    {
      name: "kind matches",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      request: buildRequest({ object: pod("dev") }),
      denied: true,
    },
    {
      name: "other kind",
      match: { resources: [{ group: "", kinds: ["Service"] }] },
      request: buildRequest({ object: pod("dev") }),
      denied: false,
    },
    {
      name: "other group",
      match: { resources: [{ group: "apps", kinds: ["*"] }] },
      request: buildRequest({ object: pod("dev") }),
      denied: false,
    },
    {
      name: "default operations exclude DELETE",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      request: buildRequest({ operation: "DELETE", oldObject: pod("dev") }),
      denied: false,
    },
    {
      name: "DELETE matched explicitly",
      match: { resources: [{ group: "", kinds: ["Pod"] }], operations: ["DELETE"] },
      request: buildRequest({ operation: "DELETE", oldObject: pod("dev") }),
      denied: true,
    },
    {
      name: "kube-system excluded by default",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      request: buildRequest({ object: pod("kube-system") }),
      denied: false,
    },
    {
      // The data mover's backup PVCs and pods and Skiff's ConfigMaps live there: policies must see it.
      name: "install namespace not excluded by default",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      request: buildRequest({ object: pod("skiff") }),
      denied: true,
    },
    {
      name: "exclusions can be cleared",
      match: { resources: [{ group: "", kinds: ["Pod"] }], excludedNamespaces: [] },
      request: buildRequest({ object: pod("kube-system") }),
      denied: true,
    },
    {
      name: "namespaceSelector matches",
      match: { resources: [{ group: "", kinds: ["Pod"] }], namespaceSelector: { matchLabels: { env: "prod" } } },
      request: buildRequest({ object: pod("prod") }),
      denied: true,
    },
    {
      name: "namespaceSelector does not match",
      match: {
        resources: [{ group: "", kinds: ["Pod"] }],
        namespaceSelector: { matchExpressions: [{ key: "env", operator: "NotIn", values: ["dev"] }] },
      },
      request: buildRequest({ object: pod("dev") }),
      denied: false,
    },
    {
      name: "objectSelector Exists",
      match: {
        resources: [{ group: "", kinds: ["Pod"] }],
        objectSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] },
      },
      request: buildRequest({ object: pod("dev", { app: "x" }) }),
      denied: true,
    },
    {
      name: "objectSelector DoesNotExist",
      match: {
        resources: [{ group: "", kinds: ["Pod"] }],
        objectSelector: { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] },
      },
      request: buildRequest({ object: pod("dev", { app: "x" }) }),
      denied: false,
    },
    {
      name: "subresource not matched by default",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      request: buildRequest({ object: pod("dev"), subResource: "ephemeralcontainers", operation: "UPDATE" }),
      denied: false,
    },
    {
      name: "subresource matched when listed",
      match: { resources: [{ group: "", kinds: ["Pod"], subresources: ["ephemeralcontainers"] }] },
      request: buildRequest({ object: pod("dev"), subResource: "ephemeralcontainers", operation: "UPDATE" }),
      denied: true,
    },
    {
      name: "listed subresource excludes the main resource",
      match: { resources: [{ group: "", kinds: ["Pod"], subresources: ["status"] }] },
      request: buildRequest({ object: pod("dev") }),
      denied: false,
    },
    {
      name: "wildcard kind does not imply subresources",
      match: { resources: [{ group: "*", kinds: ["*"] }] },
      request: buildRequest({ object: pod("dev"), subResource: "status", operation: "UPDATE" }),
      denied: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const decision = evaluateAdmission(compile(denyAll("p1", c.match)), c.request, view, "validate");
      assert.equal(decision.allowed, !c.denied, JSON.stringify(decision.results));
    });
  }

  test("a BackupPolicy only sees its own namespace", () => {
    const set = compile(denyAll("local", { resources: [{ group: "", kinds: ["Pod"] }] }, {}) as PolicyDocument);
    const namespaced = {
      ...set.policies[0]!.document,
      kind: "BackupPolicy" as const,
      metadata: { name: "local", namespace: "dev" },
    };
    const nsSet = compile(namespaced);
    assert.equal(evaluateAdmission(nsSet, buildRequest({ object: pod("dev") }), view, "validate").allowed, false);
    assert.equal(evaluateAdmission(nsSet, buildRequest({ object: pod("prod") }), view, "validate").allowed, true);
  });
});

describe("validation", () => {
  test("DELETE rules see oldObject and a null object", () => {
    const p = policy("keep-protected", {
      match: { resources: [{ group: "", kinds: ["Pod"] }], operations: ["DELETE"] },
      validate: [
        {
          name: "protected",
          expression: "object == null && !(has(oldObject.metadata.labels) && 'protected' in oldObject.metadata.labels)",
          messageExpression: "'pod ' + oldObject.metadata.name + ' is protected'",
        },
      ],
    });
    const set = compile(p);
    const denied = evaluateAdmission(
      set,
      buildRequest({ operation: "DELETE", oldObject: pod("dev", { protected: "yes" }) }),
      view,
      "validate",
    );
    assert.equal(denied.allowed, false);
    assert.match(denied.message ?? "", /pod p is protected/);
    assert.equal(
      evaluateAdmission(set, buildRequest({ operation: "DELETE", oldObject: pod("dev") }), view, "validate").allowed,
      true,
    );
  });

  test("dry-run requests get the same verdict, and CEL can see request.dryRun", () => {
    const p = policy("dry", {
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      validate: [{ name: "seen", expression: "!request.dryRun", action: "Warn", message: "dry run" }],
    });
    const set = compile(p, denyAll("deny", { resources: [{ group: "", kinds: ["Pod"] }] }));
    const wet = evaluateAdmission(set, buildRequest({ object: pod("dev") }), view, "validate");
    const dry = evaluateAdmission(set, buildRequest({ object: pod("dev"), dryRun: true }), view, "validate");
    assert.equal(wet.allowed, false);
    assert.equal(dry.allowed, false);
    assert.deepEqual(wet.warnings, []);
    assert.deepEqual(dry.warnings, ["dry run"]);
  });

  test("integer JSON values compare as CEL ints", () => {
    const p = policy("ints", {
      match: { resources: [{ group: "apps", kinds: ["Deployment"] }] },
      validate: [{ name: "replicas", expression: "object.spec.replicas == 3 && object.spec.replicas + 1 == 4" }],
    });
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", namespace: "dev" },
      spec: { replicas: 3 },
    };
    assert.equal(evaluateAdmission(compile(p), buildRequest({ object: dep }), view, "validate").allowed, true);
  });

  test("CEL runtime errors deny under Fail and are skipped under Ignore", () => {
    const rule = { name: "missing", expression: "object.spec.nothing.deeper == 1" };
    const fail = policy("fail", { match: { resources: [{ group: "", kinds: ["Pod"] }] }, validate: [rule] });
    const ignore = policy("ignore", {
      failurePolicy: "Ignore",
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      validate: [rule],
    });
    const failed = evaluateAdmission(compile(fail), buildRequest({ object: pod("dev") }), view, "validate");
    assert.equal(failed.allowed, false);
    assert.equal(failed.code, 500);
    assert.match(failed.message ?? "", /policy fail: missing: .*nothing/);
    const ignored = evaluateAdmission(compile(ignore), buildRequest({ object: pod("dev") }), view, "validate");
    assert.equal(ignored.allowed, true);
    assert.equal(ignored.results[0]?.outcome, "error");
  });

  test("a runaway expression hits the cost limit instead of hanging", () => {
    const p = policy("costly", {
      match: { resources: [{ group: "", kinds: ["ConfigMap"] }] },
      validate: [
        {
          name: "cubic",
          expression:
            "object.data.items.split(',').all(a, object.data.items.split(',').all(b, object.data.items.split(',').all(c, a != 'x')))",
        },
      ],
    });
    const items = Array.from({ length: 300 }, (_, i) => `v${i}`).join(",");
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "dev" }, data: { items } };
    const decision = evaluateAdmission(compile(p), buildRequest({ object: cm }), view, "validate");
    assert.equal(decision.allowed, false);
    assert.match(decision.message ?? "", /cost limit/);
  });

  test("one bad policy does not disable the good ones", () => {
    const text = [
      "apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\nmetadata: {name: good}\nspec:\n  match: {resources: [{group: '', kinds: [Pod]}]}\n  validate: [{name: no, expression: 'false', message: good denies}]",
      "apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\nmetadata: {name: bad}\nspec:\n  match: {resources: [{group: '', kinds: [Pod]}]}\n  validate:\n    - name: broken\n      expression: 'object.metadata.name +'",
      "apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\nmetadata: {name: typo}\nspec:\n  match: {resources: [{group: '', kinds: [Pod]}]}\n  validate: [{name: x, expression: 'true', acton: Warn}]",
    ].join("\n---\n");
    const parsed = parsePolicyDocuments(text, "mixed.yaml");
    assert.equal(parsed.errors.length, 1);
    assert.deepEqual(parsed.errors[0], {
      source: "mixed.yaml#3",
      line: 22,
      path: "/spec/validate/0/acton",
      message: "unknown field",
    });
    const { set, errors } = compilePolicySet(parsed.policies);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.source, "mixed.yaml#2");
    assert.equal(errors[0]?.line, 15);
    assert.equal(errors[0]?.path, "/spec/validate/0/expression");
    assert.match(errors[0]?.message ?? "", /^CEL: /);
    assert.deepEqual(
      set.policies.map((p) => p.id),
      ["good"],
    );
    assert.equal(
      evaluateAdmission(set, buildRequest({ object: pod("dev") }), view, "validate").message,
      "policy good: good denies",
    );
  });
});

describe("mutation", () => {
  const labelPolicy = (name: string, precedence: number, value: string) =>
    policy(name, {
      precedence,
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      mutate: [{ name: "label", patch: [{ op: "add", path: "/metadata/annotations/skiff.dev~1owner", value }] }],
    });

  test("missing parents are created and pointer segments escaped (~1, ~0)", () => {
    const p = policy("tilde", {
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      mutate: [{ name: "t", patch: [{ op: "add", path: "/metadata/annotations/a~0b~1c", value: "v" }] }],
    });
    const decision = evaluateAdmission(compile(p), buildRequest({ object: pod("dev") }), view, "mutate");
    assert.deepEqual(decision.patch, [{ op: "add", path: "/metadata/annotations", value: { "a~b/c": "v" } }]);
  });

  test("mutations are idempotent: applied to their own output they change nothing", () => {
    const set = compile(labelPolicy("a", 1, "x"));
    const first = evaluateAdmission(set, buildRequest({ object: pod("dev") }), view, "mutate");
    assert.equal(first.patch.length, 1);
    const patched = { ...pod("dev"), metadata: { ...pod("dev").metadata, annotations: { "skiff.dev/owner": "x" } } };
    const second = evaluateAdmission(set, buildRequest({ object: patched }), view, "mutate");
    assert.deepEqual(second.patch, []);
  });

  test("order is deterministic: cluster before namespaced, then precedence, then name", () => {
    const nsPolicy = {
      ...labelPolicy("zz-namespaced", -5, "ns"),
      kind: "BackupPolicy" as const,
      metadata: { name: "zz-namespaced", namespace: "dev" },
    };
    const set = compile(labelPolicy("b", 10, "b"), nsPolicy, labelPolicy("a", 10, "a"), labelPolicy("c", 1, "c"));
    assert.deepEqual(
      set.policies.map((p) => p.id),
      ["c", "a", "b", "dev/zz-namespaced"],
    );
    const decision = evaluateAdmission(set, buildRequest({ object: pod("dev") }), view, "mutate");
    // Each later policy replaces the earlier value; the namespaced policy runs last and wins.
    assert.deepEqual(
      decision.patch.map((o) => o.value),
      [{ "skiff.dev/owner": "c" }, "a", "b", "ns"],
    );
  });

  test("a failed test guard skips the rule", () => {
    const p = policy("guarded", {
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      mutate: [
        {
          name: "only_c",
          patch: [
            { op: "test", path: "/spec/containers/0/name", value: "other" },
            { op: "add", path: "/metadata/labels/x", value: "y" },
          ],
        },
      ],
    });
    const decision = evaluateAdmission(compile(p), buildRequest({ object: pod("dev") }), view, "mutate");
    assert.deepEqual(decision.patch, []);
    assert.equal(decision.results[0]?.outcome, "skip");
  });

  test("valueExpression results become plain JSON (ints as numbers)", () => {
    const p = policy("expr", {
      match: { resources: [{ group: "", kinds: ["Pod"] }] },
      mutate: [
        {
          name: "grace",
          patch: [
            {
              op: "add",
              path: "/spec/terminationGracePeriodSeconds",
              valueExpression: "size(object.spec.containers) * 30",
            },
          ],
        },
      ],
    });
    const decision = evaluateAdmission(compile(p), buildRequest({ object: pod("dev") }), view, "mutate");
    assert.deepEqual(decision.patch, [{ op: "add", path: "/spec/terminationGracePeriodSeconds", value: 30 }]);
  });

  test("DELETE requests are never mutated", () => {
    const set = compile({
      ...labelPolicy("a", 1, "x"),
      spec: {
        ...labelPolicy("a", 1, "x").spec,
        match: { resources: [{ group: "", kinds: ["Pod"] }], operations: ["DELETE"] },
      },
    });
    const decision = evaluateAdmission(
      set,
      buildRequest({ operation: "DELETE", oldObject: pod("dev") }),
      view,
      "mutate",
    );
    assert.deepEqual(decision.patch, []);
    assert.equal(decision.allowed, true);
  });
});

describe("sources", () => {
  test("a file policy wins over a cluster policy with the same identity", () => {
    const file = {
      ...denyAll("same", { resources: [{ group: "", kinds: ["Pod"] }] }),
      source: { name: "policies/a.yaml", origin: "file" as const },
    };
    const cluster = {
      ...policy("same", {
        match: { resources: [{ group: "", kinds: ["Pod"] }] },
        validate: [{ name: "ok", expression: "true" }],
      }),
      source: { name: "cluster:ClusterBackupPolicy/same", origin: "cluster" as const },
    };
    const { set, errors } = compilePolicySet([cluster, file]);
    assert.equal(set.policies.length, 1);
    assert.equal(set.policies[0]?.document.source?.origin, "file");
    assert.match(errors[0]?.message ?? "", /also defined in policies\/a.yaml/);
  });
});
