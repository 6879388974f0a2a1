/**
 * The generated policy.skiff.dev CRDs against the real apiserver: every shipped policy is accepted as a cluster
 * resource unchanged (nothing pruned, nothing unknown under strict field validation), invalid ones are rejected
 * by the CRD's schema naming the field, and the webhook's status (a Ready condition) goes through the status
 * subresource and shows in the printer columns.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { type Cluster, loadCrds, useCluster } from "../../env/index.ts";
import { apiCall } from "../admission/api.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const group = "/apis/policy.skiff.dev/v1alpha1";
const clusterPolicies = `${group}/clusterbackuppolicies`;
const strictDryRun = { dryRun: "All", fieldValidation: "Strict" };

// biome-ignore lint/suspicious/noExplicitAny: policy documents are edited freely below
type Policy = any;

const validPolicy = (): Policy => ({
  apiVersion: "policy.skiff.dev/v1alpha1",
  kind: "ClusterBackupPolicy",
  metadata: { name: "crd-check" },
  spec: {
    match: { resources: [{ group: "", kinds: ["ConfigMap"] }], operations: ["CREATE"] },
    validate: [{ name: "named", expression: "object.metadata.name != ''", message: "needs a name" }],
    mutate: [
      {
        name: "annotate",
        patch: [
          { op: "add", path: "/metadata/annotations/a", value: { any: ["json", 1, true] } },
          { op: "add", path: "/metadata/annotations/b", value: "text" },
          { op: "add", path: "/spec/nothing", value: null },
          { op: "remove", path: "/metadata/annotations/c" },
          { op: "replace", path: "/metadata/annotations/d", valueExpression: "'x'" },
        ],
      },
    ],
  },
});

async function shippedPolicies(): Promise<{ file: string; doc: Policy }[]> {
  const files = (await readdir(join("policies"))).filter((n) => n.endsWith(".yaml")).sort();
  const out: { file: string; doc: Policy }[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join("policies", file), "utf8"))) {
      const value = doc.toJS();
      if (value) out.push({ file, doc: value });
    }
  }
  return out;
}

function join(...parts: string[]): string {
  return `${root}${parts.join("/")}`;
}

describe("policy.skiff.dev CRDs on the apiserver", () => {
  let cluster: Cluster;
  let kc: KubeConfig;
  let namespace: string;

  before(async () => {
    cluster = await useCluster();
    kc = cluster.kubeConfig;
    const crdFiles = (await readdir(join("manifests/crds"))).filter((n) => n.startsWith("policy.skiff.dev_"));
    assert.equal(crdFiles.length, 2);
    const crds = (await Promise.all(crdFiles.map((f) => loadCrds(join("manifests/crds", f))))).flat();
    await cluster.installCRDs(crds);
    namespace = await cluster.newNamespace("policy-crd");
  });

  after(async () => {
    await apiCall(kc, "DELETE", `/api/v1/namespaces/${namespace}`).catch(() => {});
    await cluster?.stop();
  });

  it("accepts every shipped policy file unchanged as a ClusterBackupPolicy", async () => {
    const policies = await shippedPolicies();
    assert.ok(policies.length >= 5, `only ${policies.length} policies found`);
    for (const { file, doc } of policies) {
      assert.equal(doc.kind, "ClusterBackupPolicy", file);
      const reply = await apiCall(kc, "POST", clusterPolicies, doc, strictDryRun);
      assert.equal(reply.status, 201, `${file}: ${reply.body?.message}`);
      assert.deepEqual(reply.warnings, [], file);
      assert.deepEqual(reply.body.spec, doc.spec, `${file}: the apiserver changed (pruned) the spec`);
    }
  });

  it("keeps free-form patch values of any JSON type, null included", async () => {
    const policy = validPolicy();
    const reply = await apiCall(kc, "POST", clusterPolicies, policy, strictDryRun);
    assert.equal(reply.status, 201, reply.body?.message);
    assert.deepEqual(reply.body.spec, policy.spec);
  });

  const invalid: { name: string; edit: (p: Policy) => void; field: RegExp }[] = [
    {
      name: "an unknown rule action",
      edit: (p) => (p.spec.validate[0].action = "Block"),
      field: /spec\.validate\[0\]\.action/,
    },
    { name: "no match", edit: (p) => delete p.spec.match, field: /spec\.match: Required value/ },
    { name: "no resources to match", edit: (p) => (p.spec.match.resources = []), field: /spec\.match\.resources/ },
    { name: "a precedence out of range", edit: (p) => (p.spec.precedence = 2_000_000), field: /spec\.precedence/ },
    {
      name: "a rule name that is not an identifier",
      edit: (p) => (p.spec.validate[0].name = "not-ok"),
      field: /spec\.validate\[0\]\.name/,
    },
    {
      name: "an empty expression",
      edit: (p) => (p.spec.validate[0].expression = ""),
      field: /spec\.validate\[0\]\.expression/,
    },
    {
      name: "an add without a value",
      edit: (p) => delete p.spec.mutate[0].patch[0].value,
      field: /spec\.mutate\[0\]\.patch\[0\]/,
    },
    {
      name: "both value and valueExpression",
      edit: (p) => (p.spec.mutate[0].patch[1].valueExpression = "'y'"),
      field: /spec\.mutate\[0\]\.patch\[1\]/,
    },
    {
      name: "params naming no source",
      edit: (p) => (p.spec.params = { notFoundAction: "Deny" }),
      field: /spec\.params/,
    },
    {
      name: "an unknown field (strict validation)",
      edit: (p) => (p.spec.validate[0].mesage = "typo"),
      field: /unknown field "spec\.validate\[0\]\.mesage"/,
    },
  ];
  for (const { name, edit, field } of invalid) {
    it(`rejects ${name}`, async () => {
      const policy = validPolicy();
      edit(policy);
      const reply = await apiCall(kc, "POST", clusterPolicies, policy, strictDryRun);
      assert.ok(reply.status === 422 || reply.status === 400, `${reply.status}: ${reply.body?.message}`);
      assert.match(reply.body.message, field);
    });
  }

  it("serves BackupPolicy in a namespace, with the Ready condition in status and the printer columns", async () => {
    const path = `${group}/namespaces/${namespace}/backuppolicies`;
    const policy = { ...validPolicy(), kind: "BackupPolicy", metadata: { name: "ns-policy", namespace } };
    const created = await apiCall(kc, "POST", path, { ...policy, status: { observedGeneration: 9 } });
    assert.equal(created.status, 201, created.body?.message);
    // Status is a subresource: a write to the object itself does not set it.
    assert.equal(created.body.status, undefined);
    const status = {
      observedGeneration: 1,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Loaded",
          message: "policy loaded",
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        },
      ],
    };
    const updated = await apiCall(kc, "PUT", `${path}/ns-policy/status`, { ...created.body, status });
    assert.equal(updated.status, 200, updated.body?.message);
    assert.deepEqual(updated.body.status, status);
    const badStatus = { ...status, conditions: [{ ...status.conditions[0], status: "Maybe" }] };
    const refused = await apiCall(kc, "PUT", `${path}/ns-policy/status`, { ...updated.body, status: badStatus });
    assert.equal(refused.status, 422);
    assert.match(refused.body.message, /status\.conditions\[0\]\.status/);

    const table = await apiCall(
      kc,
      "GET",
      `${path}/ns-policy`,
      undefined,
      {},
      {
        accept: "application/json;as=Table;v=v1;g=meta.k8s.io",
      },
    );
    assert.equal(table.status, 200);
    const columns = table.body.columnDefinitions.map((c: { name: string }) => c.name);
    assert.deepEqual(columns, ["Name", "Ready", "Reason", "Precedence", "Age"]);
    assert.equal(table.body.rows[0].cells[1], "True");
    await apiCall(kc, "DELETE", `${path}/ns-policy`);
  });
});
