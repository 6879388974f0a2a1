/** What the engine may read from the cluster: synchronous lookups backed by a watch cache (webhook) or files (CLI). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface ClusterView {
  getNamespace(name: string): KubeObject | undefined;
  getResource(ref: ResourceRef): KubeObject | undefined;
}

/** A view over a fixed list of objects (the CLI and tests). Namespaces not listed are synthesised without labels. */
export function staticClusterView(
  objects: KubeObject[],
  options: { synthesizeNamespaces?: boolean } = {},
): ClusterView {
  const key = (apiVersion: string, kind: string, namespace: string | undefined, name: string) =>
    `${apiVersion}|${kind}|${namespace ?? ""}|${name}`;
  const index = new Map<string, KubeObject>();
  for (const o of objects) {
    index.set(key(o.apiVersion ?? "", o.kind ?? "", o.metadata?.namespace, o.metadata?.name ?? ""), o);
  }
  return {
    getNamespace(name) {
      const found = index.get(key("v1", "Namespace", undefined, name));
      if (found || !options.synthesizeNamespaces) return found;
      return {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, labels: { "kubernetes.io/metadata.name": name } },
      };
    },
    getResource(ref) {
      return index.get(key(ref.apiVersion, ref.kind, ref.namespace, ref.name));
    },
  };
}
