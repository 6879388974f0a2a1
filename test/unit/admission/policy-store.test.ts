import assert from "node:assert/strict";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import type { AdmissionRequest } from "../../../src/admission/codec.ts";
import { createAdmissionMetrics } from "../../../src/admission/metrics.ts";
import { readPolicyFolder, watchPolicyFolder } from "../../../src/admission/policy-files.ts";
import { buildMatchIndex, PolicyStore } from "../../../src/admission/policy-store.ts";
import { parsePolicyDocuments, staticClusterView } from "../../../src/policy/index.ts";

const logger = pino({ level: "silent" });

const policies = `apiVersion: policy.skiff.dev/v1alpha1
kind: ClusterBackupPolicy
metadata: {name: label-pods}
spec:
  match: {resources: [{group: "", kinds: [Pod]}], operations: [CREATE]}
  mutate:
    - name: add_label
      patch: [{op: add, path: /metadata/labels, value: {checked: "yes"}}]
---
apiVersion: policy.skiff.dev/v1alpha1
kind: ClusterBackupPolicy
metadata: {name: no-root}
spec:
  match: {resources: [{group: "", kinds: [Pod]}], operations: [CREATE]}
  validate:
    - name: not_root
      expression: object.spec.?securityContext.?runAsUser.orValue(1) != 0
      message: pods must not run as root
    - name: labelled
      action: Warn
      expression: "false"
      message: a warning from the validating call
`;

const podRequest = (runAsUser: number): AdmissionRequest => ({
  uid: "u1",
  kind: { group: "", version: "v1", kind: "Pod" },
  resource: { group: "", version: "v1", resource: "pods" },
  operation: "CREATE",
  namespace: "apps",
  object: {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "apps" },
    spec: { securityContext: { runAsUser } },
  },
});

function store(denyDuringMutation = true) {
  const s = new PolicyStore({
    installNamespace: "skiff-system",
    view: staticClusterView([], { synthesizeNamespaces: true }),
    logger,
    metrics: createAdmissionMetrics(),
    requiredSources: ["files"],
    denyDuringMutation,
  });
  return s;
}

describe("PolicyStore", () => {
  it("is not ready before its sources have reported", () => {
    const s = store();
    assert.equal(s.ready(), false);
    assert.equal(s.evaluate(podRequest(1), "validate").allowed, false);
    s.update("files", parsePolicyDocuments(policies, "p.yaml"));
    assert.equal(s.ready(), true);
  });

  it("mutates on /mutate and checks Deny rules there too, without repeating warnings", () => {
    const s = store();
    s.update("files", parsePolicyDocuments(policies, "p.yaml"));
    const ok = s.evaluate(podRequest(1000), "mutate");
    assert.equal(ok.allowed, true);
    assert.deepEqual(
      ok.patch.map((p) => p.path),
      ["/metadata/labels"],
    );
    const root = s.evaluate(podRequest(0), "mutate");
    assert.equal(root.allowed, false);
    assert.match(root.message ?? "", /pods must not run as root/);
    assert.deepEqual(root.patch, []);
    assert.deepEqual(root.warnings, []);
    const validated = s.evaluate(podRequest(1000), "validate");
    assert.deepEqual(validated.warnings, ["a warning from the validating call"]);
  });

  it("leaves denial to /validate when the early check is off", () => {
    const s = store(false);
    s.update("files", parsePolicyDocuments(policies, "p.yaml"));
    assert.equal(s.evaluate(podRequest(0), "mutate").allowed, true);
    assert.equal(s.evaluate(podRequest(0), "validate").allowed, false);
  });

  it("answers requests no policy matches without evaluating", () => {
    const s = store();
    s.update("files", parsePolicyDocuments(policies, "p.yaml"));
    const index = buildMatchIndex(s.current().set as NonNullable<ReturnType<typeof s.current>["set"]>);
    assert.ok(index.mutate.has("/Pod/CREATE"));
    assert.ok(!index.validate.has("/ConfigMap/CREATE"));
    const cm = { ...podRequest(0), kind: { group: "", version: "v1", kind: "ConfigMap" } };
    const d = s.evaluate(cm, "validate");
    assert.equal(d.allowed, true);
    assert.deepEqual(d.results, []);
  });

  it("keeps good policies when one document is invalid, and counts the error", () => {
    const s = store();
    const bad = `apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\nmetadata: {name: broken}\nspec: {match: {}}\n`;
    const loaded = parsePolicyDocuments(`${policies}---\n${bad}`, "p.yaml");
    s.update("files", loaded);
    assert.equal(s.current().set?.policies.length, 2);
    assert.ok(s.current().errors.length > 0);
  });
});

describe("policy folder", () => {
  it("reads through symlinks, reports a bad file and keeps the rest, and reloads on change", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skiff-policies-"));
    try {
      await writeFile(join(dir, "real-good.yaml"), policies);
      // ConfigMap volumes expose files as symlinks into ..data.
      await symlink(join(dir, "real-good.yaml"), join(dir, "good.yaml"));
      await writeFile(join(dir, "bad.yaml"), "apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\n: [\n");
      const first = await readPolicyFolder(dir);
      assert.equal(first.policies.filter((p) => p.source?.name.includes("good.yaml")).length, 4);
      assert.ok(first.errors.some((e) => e.source.includes("bad.yaml")));

      const seen: number[] = [];
      const watch = watchPolicyFolder(dir, (c) => seen.push(c.policies.length), logger, { debounceMs: 20 });
      await watch.reload();
      await writeFile(
        join(dir, "bad.yaml"),
        policies.replaceAll("label-pods", "other").replaceAll("no-root", "other-2"),
      );
      for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(20);
      watch.stop();
      assert.deepEqual(seen, [4, 6]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
