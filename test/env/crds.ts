/** Installing CustomResourceDefinitions and waiting until the apiserver serves every version of them. */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, type KubeConfig, type V1CustomResourceDefinition } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

/** CRD objects, or a YAML file or a directory of YAML files (multi-document files allowed). */
export type CrdSource = object[] | string;

async function yamlFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return names.map((n) => join(path, n));
}

/** Parses CRDs out of YAML text; other kinds are an error (a CRD directory should hold CRDs only). */
export function parseCrds(text: string, origin: string): V1CustomResourceDefinition[] {
  const crds: V1CustomResourceDefinition[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${origin}: invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as { kind?: string } | null;
    if (value === null) continue;
    if (value.kind !== "CustomResourceDefinition") {
      throw new Error(`${origin}: expected kind CustomResourceDefinition, found ${String(value.kind)}`);
    }
    crds.push(value as V1CustomResourceDefinition);
  }
  return crds;
}

export async function loadCrds(source: CrdSource): Promise<V1CustomResourceDefinition[]> {
  if (typeof source !== "string") return source as V1CustomResourceDefinition[];
  const crds: V1CustomResourceDefinition[] = [];
  for (const file of await yamlFiles(source)) crds.push(...parseCrds(await readFile(file, "utf8"), file));
  return crds;
}

const codeOf = (err: unknown) => (err as { code?: number }).code;

// CRDs go through the untyped custom-objects client on purpose: the typed ApiextensionsV1Api serializer maps
// JSON names to its own property names (enum -> _enum, x-kubernetes-* -> camelCase) and silently drops those
// keywords from plain objects, which would install CRDs without their validation.
const crdResource = { group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions" };

/** Creates each CRD, or updates it in place if it exists (several test files may install the same CRDs). */
async function apply(api: CustomObjectsApi, crd: V1CustomResourceDefinition): Promise<void> {
  const name = crd.metadata?.name;
  if (!name) throw new Error("a CustomResourceDefinition without metadata.name");
  for (let attempt = 1; ; attempt++) {
    try {
      await api.createClusterCustomObject({ ...crdResource, body: crd });
      return;
    } catch (err) {
      if (codeOf(err) !== 409) throw err;
    }
    try {
      const current = (await api.getClusterCustomObject({ ...crdResource, name })) as V1CustomResourceDefinition;
      const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } };
      await api.replaceClusterCustomObject({ ...crdResource, name, body });
      return;
    } catch (err) {
      // A concurrent writer won the race: read again and retry.
      if (codeOf(err) !== 409 || attempt >= 5) throw err;
    }
  }
}

export async function installCRDs(kc: KubeConfig, source: CrdSource, timeoutMs = 30_000): Promise<void> {
  const crds = await loadCrds(source);
  const api = kc.makeApiClient(CustomObjectsApi);
  for (const crd of crds) await apply(api, crd);
  const discovery = api;
  const wanted = crds.flatMap((crd) =>
    crd.spec.versions
      .filter((v) => v.served)
      .map((v) => ({ group: crd.spec.group, version: v.name, plural: crd.spec.names.plural })),
  );
  const deadline = Date.now() + timeoutMs;
  for (const { group, version, plural } of wanted) {
    for (;;) {
      try {
        const list = await discovery.getAPIResources({ group, version });
        if (list.resources.some((r) => r.name === plural)) break;
      } catch (err) {
        if (codeOf(err) !== 404) throw err;
      }
      if (Date.now() > deadline) {
        throw new Error(`${plural}.${group}/${version} did not appear in discovery within ${timeoutMs} ms`);
      }
      await sleep(100);
    }
  }
}
