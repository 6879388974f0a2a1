/** The control plane is real: objects round-trip through etcd, watches deliver events, CRDs are served, PSA runs. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CoreV1Api, CustomObjectsApi, type V1ConfigMap, VersionApi, Watch } from "@kubernetes/client-node";
import { type Cluster, useCluster } from "../../env/index.ts";

let cluster: Cluster;
let core: CoreV1Api;
let namespace: string;

before(async () => {
  cluster = await useCluster();
  core = cluster.kubeConfig.makeApiClient(CoreV1Api);
  namespace = await cluster.newNamespace("env-kube");
});

after(() => cluster.stop());

describe("kube-apiserver", () => {
  it("reports the pinned Kubernetes version", async () => {
    const { versions } = await import("../../env/versions.ts");
    const info = await cluster.kubeConfig.makeApiClient(VersionApi).getCode();
    assert.equal(info.gitVersion, versions.kubernetes);
  });

  it("creates and reads back a ConfigMap", async () => {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "settings" }, data: { a: "1" } } });
    const read = await core.readNamespacedConfigMap({ namespace, name: "settings" });
    assert.deepEqual(read.data, { a: "1" });
    assert.ok(read.metadata?.uid, "the apiserver assigns a uid");
  });

  it("delivers real watch events", async () => {
    const events: Array<{ type: string; name: string; data: unknown }> = [];
    let notify: () => void = () => {};
    const seen = (type: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} event within 20 s`)), 20_000);
        notify = () => {
          if (events.some((e) => e.type === type && e.name === "watched")) {
            clearTimeout(timer);
            resolve();
          }
        };
        notify();
      });
    const list = await core.listNamespacedConfigMap({ namespace });
    const controller = await new Watch(cluster.kubeConfig).watch(
      `/api/v1/namespaces/${namespace}/configmaps`,
      { resourceVersion: list.metadata?.resourceVersion },
      (type, obj: V1ConfigMap) => {
        events.push({ type, name: obj.metadata?.name ?? "", data: obj.data });
        notify();
      },
      () => {},
    );
    try {
      const added = seen("ADDED");
      await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "watched" }, data: { v: "1" } } });
      await added;
      const modified = seen("MODIFIED");
      const current = await core.readNamespacedConfigMap({ namespace, name: "watched" });
      await core.replaceNamespacedConfigMap({ namespace, name: "watched", body: { ...current, data: { v: "2" } } });
      await modified;
      const last = events.filter((e) => e.name === "watched").at(-1);
      assert.deepEqual(last?.data, { v: "2" });
    } finally {
      controller.abort();
    }
  });

  it("serves an installed CRD", async () => {
    const group = "env.skiff.test";
    await cluster.installCRDs([
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: { spec: { type: "object", properties: { size: { type: "integer", minimum: 1 } } } },
                },
              },
            },
          ],
        },
      },
    ]);
    const custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
    const ref = { group, version: "v1", namespace, plural: "widgets" };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w1" }, spec: { size: 3 } },
    });
    const read = (await custom.getNamespacedCustomObject({ ...ref, name: "w1" })) as { spec: { size: number } };
    assert.equal(read.spec.size, 3);
    // The structural schema is enforced by the apiserver.
    await assert.rejects(
      custom.createNamespacedCustomObject({
        ...ref,
        body: { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w2" }, spec: { size: 0 } },
      }),
      (err: Error & { code?: number }) => err.code === 422,
    );
  });

  it("rejects a privileged pod through Pod Security Admission", async () => {
    const restricted = await cluster.newNamespace("env-psa", { "pod-security.kubernetes.io/enforce": "baseline" });
    const error = await core
      .createNamespacedPod({
        namespace: restricted,
        body: {
          metadata: { name: "privileged" },
          spec: {
            containers: [{ name: "main", image: "busybox", securityContext: { privileged: true } }],
          },
        },
      })
      .then(
        () => undefined,
        (err: Error & { code?: number; body?: unknown }) => err,
      );
    assert.ok(error, "the privileged pod must be rejected");
    assert.equal(error.code, 403);
    const status = (typeof error.body === "string" ? JSON.parse(error.body) : error.body) as { message: string };
    assert.match(status.message, /violates PodSecurity "baseline:latest"/);
    assert.match(status.message, /must not set securityContext\.privileged=true/);
  });
});
