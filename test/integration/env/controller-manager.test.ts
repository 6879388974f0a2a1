/** kube-controller-manager runs for real: namespaces finish deleting, dependents of deleted owners are collected. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { type Cluster, useCluster } from "../../env/index.ts";

let cluster: Cluster;
let core: CoreV1Api;

before(async () => {
  cluster = await useCluster();
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
});

after(() => cluster.stop());

/** Polls until read() answers 404; fails with what it last saw after timeoutMs. */
async function waitUntilGone(what: string, read: () => Promise<unknown>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await read();
    } catch (err) {
      if ((err as { code?: number }).code === 404) return;
      throw err;
    }
    if (Date.now() > deadline) assert.fail(`${what} still exists after ${timeoutMs} ms: ${JSON.stringify(last)}`);
    await sleep(250);
  }
}

describe("kube-controller-manager", () => {
  it("runs in the test environment", () => {
    assert.equal(cluster.controllerManager, true);
  });

  it("completes namespace deletion (namespace controller)", async () => {
    const namespace = await cluster.newNamespace("env-delete");
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "content" }, data: { k: "v" } } });
    await core.deleteNamespace({ name: namespace });
    const terminating = await core.readNamespace({ name: namespace }).catch(() => undefined);
    // Either already gone, or Terminating while the controller empties it.
    if (terminating) assert.equal(terminating.status?.phase, "Terminating");
    await waitUntilGone(`namespace ${namespace}`, () => core.readNamespace({ name: namespace }));
  });

  it("garbage-collects an object whose owner was deleted", async () => {
    const namespace = await cluster.newNamespace("env-gc");
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: "dependent",
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata?.uid ?? "" }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: "owner" });
    await waitUntilGone(`configmap ${namespace}/dependent`, () =>
      core.readNamespacedConfigMap({ namespace, name: "dependent" }),
    );
  });
});
