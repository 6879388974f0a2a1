/** Resolving a policy's params: a ConfigMap key holding JSON, or any resource, read through the ClusterView. */
import type { CompiledPolicy } from "./compile.ts";
import type { ClusterView } from "./view.ts";

export type ParamsResult =
  | { kind: "none"; value: null }
  | { kind: "found"; value: unknown }
  | { kind: "not-found"; message: string }
  | { kind: "error"; message: string };

export function resolveParams(
  policy: CompiledPolicy,
  view: ClusterView,
): ParamsResult | { kind: "found"; value: unknown } {
  const params = policy.params;
  if (!params) return { kind: "found", value: null };
  if (params.resourceRef) {
    const ref = params.resourceRef;
    const found = view.getResource({ ...ref, ...(params.namespace ? { namespace: params.namespace } : {}) });
    if (!found)
      return {
        kind: "not-found",
        message: `params ${ref.kind} ${params.namespace ? `${params.namespace}/` : ""}${ref.name} not found`,
      };
    return { kind: "found", value: found };
  }
  const ref = params.configMapRef;
  if (!ref) return { kind: "found", value: null };
  const where = `ConfigMap ${params.namespace}/${ref.name}`;
  const configMap = view.getResource({
    apiVersion: "v1",
    kind: "ConfigMap",
    namespace: params.namespace as string,
    name: ref.name,
  });
  if (!configMap) return { kind: "not-found", message: `params ${where} not found` };
  const data = (configMap.data ?? {}) as Record<string, unknown>;
  let key = ref.key;
  if (key === undefined) {
    const keys = Object.keys(data);
    if (keys.length !== 1)
      return {
        kind: "error",
        message: `params ${where} must have exactly one data key (has ${keys.length}); set configMapRef.key`,
      };
    key = keys[0] as string;
  }
  const text = data[key];
  if (typeof text !== "string") return { kind: "not-found", message: `params ${where} has no key ${key}` };
  try {
    return { kind: "found", value: JSON.parse(text) };
  } catch (err) {
    return { kind: "error", message: `params ${where} key ${key} is not valid JSON: ${(err as Error).message}` };
  }
}
