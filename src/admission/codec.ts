/**
 * The AdmissionReview wire format (admission.k8s.io/v1, and v1beta1 which has the same shape). Parsing
 * returns a value — either the review or a transport error with the HTTP status to answer — and never
 * throws, so a crafted body can only ever earn a 4xx, never crash the process.
 */
import type { Decision, PatchOperation } from "../policy/types.ts";

export const SUPPORTED_VERSIONS = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"] as const;
export type ReviewVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The request half as the apiserver sends it; the engine receives it untouched. */
export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind?: { group: string; version: string; kind: string };
  requestResource?: { group: string; version: string; resource: string };
  name?: string;
  namespace?: string;
  operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo?: Record<string, unknown>;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
  [key: string]: unknown;
}

export interface ParsedReview {
  apiVersion: ReviewVersion;
  request: AdmissionRequest;
}

export interface TransportError {
  /** 400 malformed, 413 too large, 415 wrong media type, 503 not able to decide yet. */
  status: 400 | 413 | 415 | 503;
  reason: string;
}

export type ParseResult = { ok: true; review: ParsedReview } | { ok: false; error: TransportError };

export interface AdmissionResponseBody {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  patch?: string;
  patchType?: "JSONPatch";
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: ReviewVersion;
  kind: "AdmissionReview";
  response: AdmissionResponseBody;
}

const bad = (reason: string): ParseResult => ({ ok: false, error: { status: 400, reason } });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for application/json with any parameters (charset), which is what the apiserver sends. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const base = contentType.split(";", 1)[0]?.trim().toLowerCase();
  return base === "application/json";
}

/** Parses and checks an AdmissionReview body (already size-limited by the caller). */
export function parseAdmissionReview(body: string | Buffer): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    return bad(`request body is not valid JSON: ${(err as Error).message}`);
  }
  return checkAdmissionReview(value);
}

export function checkAdmissionReview(value: unknown): ParseResult {
  if (!isRecord(value)) return bad("request body must be a JSON object (an AdmissionReview)");
  const { apiVersion, kind, request } = value;
  if (kind !== "AdmissionReview") return bad(`kind must be "AdmissionReview", got ${JSON.stringify(kind)}`);
  if (typeof apiVersion !== "string" || !(SUPPORTED_VERSIONS as readonly string[]).includes(apiVersion)) {
    return bad(
      `apiVersion ${JSON.stringify(apiVersion)} is not supported; send one of ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  if (!isRecord(request)) return bad("AdmissionReview.request is missing or not an object");
  if (typeof request.uid !== "string" || request.uid === "") {
    return bad("AdmissionReview.request.uid is missing or empty");
  }
  if (
    request.operation !== undefined &&
    !["CREATE", "UPDATE", "DELETE", "CONNECT"].includes(request.operation as string)
  ) {
    return bad(`AdmissionReview.request.operation ${JSON.stringify(request.operation)} is not a known operation`);
  }
  return { ok: true, review: { apiVersion: apiVersion as ReviewVersion, request: request as AdmissionRequest } };
}

export const MAX_WARNING_LENGTH = 119;
export const MAX_WARNINGS_TOTAL = 4000;

/**
 * Makes warnings safe for the apiserver: one line each, no "Warning:" prefix (kubectl adds its own), each
 * under 120 characters (longer ones are cut with an ellipsis), duplicates dropped, and the total kept under
 * the 4,096 characters after which the apiserver silently discards the rest — the last kept warning says
 * how many were left out so the user knows to look at the audit log.
 */
export function sanitizeWarnings(warnings: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i < warnings.length; i++) {
    let text = String(warnings[i])
      .replace(/[\r\n\t]+/g, " ")
      .trim()
      .replace(/^warning:\s*/i, "");
    if (text === "" || seen.has(text)) continue;
    // ASCII ellipsis: warnings travel in an HTTP header, where clients read bytes as Latin-1.
    if (text.length > MAX_WARNING_LENGTH) text = `${text.slice(0, MAX_WARNING_LENGTH - 3)}...`;
    // Keep room for a closing "N more warnings omitted" note.
    if (total + text.length > MAX_WARNINGS_TOTAL - 60) {
      out.push(`${warnings.length - i} more warnings omitted`);
      return out;
    }
    seen.add(text);
    out.push(text);
    total += text.length;
  }
  return out;
}

/** base64 of the RFC 6902 document; undefined when there is nothing to patch. */
export function encodePatch(patch: readonly PatchOperation[]): string | undefined {
  if (patch.length === 0) return undefined;
  return Buffer.from(JSON.stringify(patch), "utf8").toString("base64");
}

export type Phase = "mutate" | "validate";

/** Maps an engine Decision to the response the apiserver expects for this route. */
export function buildResponse(review: ParsedReview, decision: Decision, phase: Phase): AdmissionReviewResponse {
  const response: AdmissionResponseBody = { uid: review.request.uid, allowed: decision.allowed };
  if (!decision.allowed) {
    const code = decision.code !== undefined && decision.code >= 400 && decision.code <= 599 ? decision.code : 403;
    response.status = {
      code,
      message: decision.message || "denied by policy",
      reason: code === 403 ? "Forbidden" : code === 422 ? "Invalid" : "BadRequest",
    };
  }
  // A denial carries no patch, and a validating webhook never returns one.
  if (phase === "mutate" && decision.allowed) {
    const encoded = encodePatch(decision.patch);
    if (encoded !== undefined) {
      response.patch = encoded;
      response.patchType = "JSONPatch";
    }
  }
  const warnings = sanitizeWarnings(decision.warnings);
  if (warnings.length > 0) response.warnings = warnings;
  const annotations = sanitizeAuditAnnotations(decision.auditAnnotations);
  if (annotations) response.auditAnnotations = annotations;
  return { apiVersion: review.apiVersion, kind: "AdmissionReview", response };
}

/** An allow-everything answer: used by the no-op route and for requests no policy matches. */
export function allowResponse(review: ParsedReview): AdmissionReviewResponse {
  return {
    apiVersion: review.apiVersion,
    kind: "AdmissionReview",
    response: { uid: review.request.uid, allowed: true },
  };
}

/** A denial built by the server itself (an evaluation failure), never by a policy. */
export function errorResponse(review: ParsedReview, code: number, message: string): AdmissionReviewResponse {
  return {
    apiVersion: review.apiVersion,
    kind: "AdmissionReview",
    response: { uid: review.request.uid, allowed: false, status: { code, message } },
  };
}

// Audit annotation keys become "<webhook name>/<key>": they must be a valid qualified-name part.
const annotationKey = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const MAX_ANNOTATION_VALUE = 10_000;

function sanitizeAuditAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  for (const [key, value] of Object.entries(annotations)) {
    if (!annotationKey.test(key)) continue;
    out ??= {};
    const text = String(value);
    out[key] = text.length > MAX_ANNOTATION_VALUE ? `${text.slice(0, MAX_ANNOTATION_VALUE - 1)}…` : text;
  }
  return out;
}
