import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { evaluatePodSecurity } from "../../../src/policy/index.ts";

export interface PodSecurityCase {
  name: string;
  expect: { baseline: "allow" | "deny"; restricted: "allow" | "deny" };
  pod: { metadata?: Record<string, unknown>; spec: Record<string, unknown> };
}

const cases = JSON.parse(
  readFileSync(new URL("../../fixtures/podsecurity/cases.json", import.meta.url), "utf8"),
) as PodSecurityCase[];

test("the corpus is large enough to cover every check", () => {
  assert.ok(cases.length >= 50, `${cases.length} cases`);
});

for (const c of cases) {
  test(`pod security: ${c.name}`, () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", ...c.pod.metadata }, spec: c.pod.spec };
    for (const level of ["baseline", "restricted"] as const) {
      const violations = evaluatePodSecurity(pod, level);
      const verdict = violations.length === 0 ? "allow" : "deny";
      assert.equal(verdict, c.expect[level], `${level}: ${JSON.stringify(violations)}`);
      for (const v of violations) {
        assert.ok(v.path && v.reason && v.fix && v.check, JSON.stringify(v));
      }
    }
  });
}

test("templates of workloads are checked at their own paths", () => {
  const deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    spec: { template: { spec: { hostNetwork: true, containers: [{ name: "c", image: "i" }] } } },
  };
  const [violation] = evaluatePodSecurity(deployment, "baseline");
  assert.equal(violation?.path, "spec.template.spec.hostNetwork");
  const cronJob = {
    kind: "CronJob",
    spec: {
      jobTemplate: {
        spec: {
          template: { spec: { containers: [{ name: "c", image: "i", securityContext: { privileged: true } }] } },
        },
      },
    },
  };
  assert.equal(
    evaluatePodSecurity(cronJob, "baseline")[0]?.path,
    "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged",
  );
  assert.deepEqual(evaluatePodSecurity(cronJob, "privileged"), []);
});
