/** The generated velero.io CRDs install into the real apiserver, which then stores and validates the kinds. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Backup, DataUpload } from "../../../src/api/velero/index.ts";
import { type Cluster, useCluster } from "../../env/index.ts";

const crdDir = fileURLToPath(new URL("../../../manifests/crds/", import.meta.url));

let cluster: Cluster;
let custom: CustomObjectsApi;
let namespace: string;

before(async () => {
  cluster = await useCluster();
  custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi);
  await cluster.installCRDs(crdDir);
  namespace = await cluster.newNamespace("velero-crds");
});

after(() => cluster.stop());

describe("velero.io CRDs in the apiserver", () => {
  it("stores a Backup and accepts a status update through the status subresource", async () => {
    const ref = { group: "velero.io", version: "v1", namespace, plural: "backups" };
    const backup: Backup = {
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: { name: "nightly" },
      spec: {
        includedNamespaces: ["app"],
        ttl: "720h0m0s",
        snapshotMoveData: true,
        storageLocation: "default",
        labelSelector: { matchLabels: { tier: "db" } },
      },
    };
    await custom.createNamespacedCustomObject({ ...ref, body: backup });
    const stored = (await custom.getNamespacedCustomObject({ ...ref, name: "nightly" })) as Backup;
    assert.deepEqual(stored.spec, backup.spec);

    const withStatus = { ...stored, status: { phase: "InProgress", progress: { totalItems: 10, itemsBackedUp: 3 } } };
    await custom.replaceNamespacedCustomObjectStatus({ ...ref, name: "nightly", body: withStatus });
    const updated = (await custom.getNamespacedCustomObject({ ...ref, name: "nightly" })) as Backup;
    assert.equal(updated.status?.phase, "InProgress");
    assert.equal(updated.status?.progress?.itemsBackedUp, 3);
  });

  it("stores a DataUpload and rejects one that breaks the schema", async () => {
    const ref = { group: "velero.io", version: "v2alpha1", namespace, plural: "datauploads" };
    const upload: DataUpload = {
      apiVersion: "velero.io/v2alpha1",
      kind: "DataUpload",
      metadata: { generateName: "nightly-" },
      spec: {
        snapshotType: "CSI",
        csiSnapshot: { volumeSnapshot: "snap-1", storageClass: "fast", snapshotClass: "csi" },
        sourcePVC: "data",
        sourceNamespace: "app",
        backupStorageLocation: "default",
        operationTimeout: "10m0s",
        dataMoverConfig: { ParallelFilesUpload: "4" },
      },
    };
    const created = (await custom.createNamespacedCustomObject({ ...ref, body: upload })) as DataUpload;
    assert.match(created.metadata.name ?? "", /^nightly-/);
    assert.equal(created.spec?.csiSnapshot?.volumeSnapshot, "snap-1");

    const invalid = { ...upload, spec: { ...upload.spec, snapshotType: "Restic" } };
    await assert.rejects(
      custom.createNamespacedCustomObject({ ...ref, body: invalid }),
      (err: Error & { code?: number }) => {
        assert.equal(err.code, 422);
        assert.match(String((err as { body?: unknown }).body), /spec\.snapshotType/);
        return true;
      },
    );
  });
});
