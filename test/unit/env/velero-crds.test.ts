/** The committed velero.io CRDs are exactly what the schemas generate, and the schemas are structural. */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import {
  type Backup,
  type DataUpload,
  dataMoverPhases,
  generateCrdFiles,
  veleroKinds,
} from "../../../src/api/velero/index.ts";

const crdDir = fileURLToPath(new URL("../../../manifests/crds/", import.meta.url));

/** Every node of a structural schema has a type, unless it preserves unknown fields. */
function untypedPaths(node: Record<string, unknown>, path: string): string[] {
  const found: string[] = [];
  if (!node.type && !node["x-kubernetes-preserve-unknown-fields"]) found.push(path);
  const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
  for (const [key, child] of Object.entries(properties)) found.push(...untypedPaths(child, `${path}.${key}`));
  if (node.items) found.push(...untypedPaths(node.items as Record<string, unknown>, `${path}[]`));
  if (typeof node.additionalProperties === "object") {
    found.push(...untypedPaths(node.additionalProperties as Record<string, unknown>, `${path}{}`));
  }
  return found;
}

describe("velero.io CRDs", () => {
  const generated = generateCrdFiles();

  it("covers the thirteen kinds of Velero 1.15", () => {
    assert.deepEqual(veleroKinds.map((k) => `${k.version}/${k.kind}`).sort(), [
      "v1/Backup",
      "v1/BackupRepository",
      "v1/BackupStorageLocation",
      "v1/DeleteBackupRequest",
      "v1/DownloadRequest",
      "v1/PodVolumeBackup",
      "v1/PodVolumeRestore",
      "v1/Restore",
      "v1/Schedule",
      "v1/ServerStatusRequest",
      "v1/VolumeSnapshotLocation",
      "v2alpha1/DataDownload",
      "v2alpha1/DataUpload",
    ]);
  });

  it("committed manifests/crds/velero.io_*.yaml equal the generated output (run `npm run gen:crds`)", async () => {
    const committed = (await readdir(crdDir)).filter((n) => n.startsWith("velero.io_")).sort();
    assert.deepEqual(committed, [...generated.keys()].sort());
    for (const [name, text] of generated) {
      assert.equal(await readFile(`${crdDir}${name}`, "utf8"), text, `${name} is out of date`);
    }
  });

  it("has structural schemas, a status subresource and the data mover printer columns", () => {
    for (const [name, text] of generated) {
      const crd = parse(text);
      const version = crd.spec.versions[0];
      assert.deepEqual(version.subresources, { status: {} }, name);
      assert.deepEqual(untypedPaths(version.schema.openAPIV3Schema, "root"), [], name);
    }
    const du = parse(generated.get("velero.io_datauploads.yaml") ?? "");
    assert.deepEqual(
      du.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name),
      ["Status", "Started", "Bytes Done", "Total Bytes", "Storage Location", "Age", "Node"],
    );
    assert.deepEqual(du.spec.versions[0].schema.openAPIV3Schema.properties.status.properties.phase.enum, [
      ...dataMoverPhases,
    ]);
  });

  it("derives TypeScript types from the same schemas", () => {
    const upload: DataUpload = {
      apiVersion: "velero.io/v2alpha1",
      kind: "DataUpload",
      metadata: { name: "du" },
      spec: {
        snapshotType: "CSI",
        sourcePVC: "data",
        sourceNamespace: "app",
        backupStorageLocation: "default",
        operationTimeout: "10m",
      },
      status: { phase: "InProgress", progress: { bytesDone: 1, totalBytes: 2 } },
    };
    // @ts-expect-error a phase outside the schema's enum is a type error
    const badPhase: Backup["status"] = { phase: "Running" };
    // @ts-expect-error a required spec field (sourcePVC) may not be left out
    const missing: DataUpload["spec"] = {
      snapshotType: "CSI",
      sourceNamespace: "a",
      backupStorageLocation: "b",
      operationTimeout: "1m",
    };
    assert.equal(upload.status?.phase, "InProgress");
    assert.ok(badPhase && missing);
  });
});
