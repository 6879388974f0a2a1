/** The parts of an admission.k8s.io/v1 AdmissionReview request the engine reads, read defensively. */
import type { Operation } from "../api/policy/types.ts";

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequestView {
  uid: string;
  operation: Operation;
  kind: GroupVersionKind;
  requestKind?: GroupVersionKind;
  subResource: string;
  namespace: string;
  name: string;
  object: unknown;
  oldObject: unknown;
  dryRun: boolean;
  /** The request as CEL sees it (`request`): everything except object and oldObject. */
  celRequest: Record<string, unknown>;
}

function gvk(value: unknown): GroupVersionKind | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const v = value as Record<string, unknown>;
  return { group: String(v.group ?? ""), version: String(v.version ?? ""), kind: String(v.kind ?? "") };
}

export function readRequest(request: unknown): AdmissionRequestView | { error: string } {
  if (request === null || typeof request !== "object") return { error: "request is not an object" };
  const r = request as Record<string, unknown>;
  const operation = String(r.operation ?? "");
  if (!["CREATE", "UPDATE", "DELETE", "CONNECT"].includes(operation)) {
    return { error: `request.operation "${operation}" is not CREATE, UPDATE, DELETE or CONNECT` };
  }
  const kind = gvk(r.kind);
  if (!kind?.kind) return { error: "request.kind is missing" };
  const { object, oldObject, ...rest } = r;
  const requestKind = gvk(r.requestKind);
  return {
    uid: String(r.uid ?? ""),
    operation: operation as Operation,
    kind,
    ...(requestKind ? { requestKind } : {}),
    subResource: String(r.subResource ?? ""),
    namespace: String(r.namespace ?? ""),
    name: String(r.name ?? ""),
    object: object ?? null,
    oldObject: oldObject ?? null,
    dryRun: r.dryRun === true,
    celRequest: rest,
  };
}
