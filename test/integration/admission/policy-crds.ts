/**
 * CRDs for the policy kinds: the project's own when manifests/crds has them, else a minimal schemaless pair
 * (the webhook validates policy documents itself, so the test does not depend on the CRD's schema).
 */
import { readdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { KubeConfig } from "@kubernetes/client-node";
import { loadCrds } from "../../env/index.ts";
import { apiCall } from "./api.ts";

const crdDir = fileURLToPath(new URL("../../../manifests/crds/", import.meta.url));

function minimal(kind: string, plural: string, scope: "Namespaced" | "Cluster") {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.policy.skiff.dev` },
    spec: {
      group: "policy.skiff.dev",
      scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1alpha1",
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  };
}

/** The CRDs to install; a stand-in is never installed over a policy CRD already in the (shared) cluster. */
export async function policyCrds(kc: KubeConfig): Promise<object[]> {
  const files = (await readdir(crdDir)).filter((n) => n.includes("policy.skiff.dev") && n.endsWith(".yaml"));
  if (files.length > 0) {
    const all = await Promise.all(files.map((f) => loadCrds(`${crdDir}${f}`)));
    return all.flat();
  }
  const wanted = [
    minimal("BackupPolicy", "backuppolicies", "Namespaced"),
    minimal("ClusterBackupPolicy", "clusterbackuppolicies", "Cluster"),
  ];
  const missing: object[] = [];
  for (const crd of wanted) {
    const found = await apiCall(
      kc,
      "GET",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
    );
    if (found.status === 404) missing.push(crd);
  }
  return missing;
}
