/**
 * Pod Security agreement: every pod of the corpus is created with dryRun=All in namespaces enforcing baseline
 * and restricted (at several policy versions) on a real kube-apiserver, whose built-in PodSecurity plugin
 * decides; Skiff's module must agree on allow/deny for every case.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { evaluatePodSecurity } from "../../../src/policy/index.ts";
import { type Cluster, useCluster } from "../../env/index.ts";

interface PodSecurityCase {
  name: string;
  pod: { metadata?: Record<string, unknown>; spec: Record<string, unknown> };
}

const cases = JSON.parse(
  readFileSync(new URL("../../fixtures/podsecurity/cases.json", import.meta.url), "utf8"),
) as PodSecurityCase[];

let cluster: Cluster;
let core: CoreV1Api;
/**
 * Policy versions to compare at: latest, plus versions before checks changed (1.30: before container_engine_t,
 * tcp_rmem/wmem, probe hosts; 1.24: before the Windows exemptions and with the older sysctl set).
 */
const versions = ["latest", "v1.30", "v1.24"] as const;
const levels = ["baseline", "restricted"] as const;
const namespaces = new Map<string, string>();
const key = (level: string, version: string) => `${level}@${version}`;

before(async () => {
  cluster = await useCluster();
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  for (const level of levels) {
    for (const version of versions) {
      const labels = {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": version,
      };
      namespaces.set(
        key(level, version),
        await cluster.newNamespace(`psa-${level}-${version.replace(".", "-")}`, labels),
      );
    }
  }
});

after(async () => {
  for (const name of namespaces.values()) await core.deleteNamespace({ name }).catch(() => {});
  await cluster?.stop();
});

async function apiserverVerdict(
  pod: V1Pod,
  namespace: string,
): Promise<{ verdict: "allow" | "deny" | "invalid"; message: string }> {
  try {
    await core.createNamespacedPod({ namespace, body: pod, dryRun: "All" });
    return { verdict: "allow", message: "" };
  } catch (err) {
    const code = (err as { code?: number }).code;
    const body = String((err as { body?: unknown }).body ?? (err as Error).message);
    if (code === 403) return { verdict: "deny", message: body };
    if (code === 422) return { verdict: "invalid", message: body };
    throw err;
  }
}

test("Skiff's Pod Security evaluation agrees with the API server's PodSecurity plugin", async () => {
  const disagreements: string[] = [];
  const invalid: string[] = [];
  let compared = 0;
  for (const [i, c] of cases.entries()) {
    for (const level of levels) {
      for (const version of versions) {
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: `case-${i}`, ...c.pod.metadata },
          spec: c.pod.spec,
        } as unknown as V1Pod;
        const server = await apiserverVerdict(pod, namespaces.get(key(level, version)) as string);
        if (server.verdict === "invalid") {
          invalid.push(`${c.name} (${level}@${version}): ${server.message.slice(0, 200)}`);
          continue;
        }
        compared++;
        const violations = evaluatePodSecurity(pod, level, version);
        const ours = violations.length === 0 ? "allow" : "deny";
        if (ours !== server.verdict) {
          disagreements.push(
            `${c.name} (${level}@${version}): apiserver ${server.verdict} ${server.message.slice(0, 300)}; skiff ${ours} ${JSON.stringify(violations.map((v) => v.check))}`,
          );
        }
      }
    }
  }
  assert.deepEqual(invalid, [], "corpus pods must be valid so that only Pod Security decides");
  assert.deepEqual(disagreements, []);
  assert.equal(compared, cases.length * levels.length * versions.length);
});
