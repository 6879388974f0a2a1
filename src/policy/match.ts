/** Does a compiled policy apply to a request? Scope, excluded namespaces, operations, resources and selectors. */
import type { ResourceMatch } from "../api/policy/types.ts";
import type { CompiledPolicy } from "./compile.ts";
import type { AdmissionRequestView, GroupVersionKind } from "./request.ts";
import { labelsOf, selectorMatches } from "./selectors.ts";
import type { KubeObject } from "./view.ts";

export type MatchOutcome = { matches: true } | { matches: false; reason: string };

function resourceMatches(rule: ResourceMatch, kind: GroupVersionKind, subResource: string): boolean {
  if (rule.group !== "*" && rule.group !== kind.group) return false;
  if (!rule.kinds.includes("*") && !rule.kinds.includes(kind.kind)) return false;
  const subresources = rule.subresources ?? [""];
  return subresources.includes("*") || subresources.includes(subResource);
}

/**
 * `namespaceObject` is the request's namespace (or, for a Namespace request, the namespace itself); undefined for
 * cluster-scoped objects, whose policies' namespace selectors do not apply.
 */
export function policyMatches(
  policy: CompiledPolicy,
  request: AdmissionRequestView,
  namespaceObject: KubeObject | undefined,
): MatchOutcome {
  const namespace = request.namespace;
  if (policy.scope === "Namespaced" && namespace !== policy.namespace) {
    return { matches: false, reason: "request is not in the policy's namespace" };
  }
  if (namespace && policy.match.excludedNamespaces.includes(namespace)) {
    return { matches: false, reason: `namespace ${namespace} is excluded` };
  }
  if (!policy.match.operations.includes(request.operation)) {
    return { matches: false, reason: `operation ${request.operation} not matched` };
  }
  const kinds = [request.kind, ...(request.requestKind ? [request.requestKind] : [])];
  const resourceMatched = policy.match.resources.some((rule) =>
    kinds.some((kind) => resourceMatches(rule, kind, request.subResource)),
  );
  if (!resourceMatched) return { matches: false, reason: "resource not matched" };
  if (policy.match.namespaceSelector && namespace) {
    if (!selectorMatches(policy.match.namespaceSelector, labelsOf(namespaceObject))) {
      return { matches: false, reason: "namespaceSelector not matched" };
    }
  }
  if (policy.match.objectSelector) {
    // As in Kubernetes: the selector matches if either the new or the old object matches.
    const candidates = [request.object, request.oldObject].filter((o) => o !== null && o !== undefined);
    if (!candidates.some((o) => selectorMatches(policy.match.objectSelector, labelsOf(o)))) {
      return { matches: false, reason: "objectSelector not matched" };
    }
  }
  return { matches: true };
}
