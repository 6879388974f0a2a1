import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildResponse,
  encodePatch,
  isJsonMediaType,
  MAX_WARNING_LENGTH,
  type ParsedReview,
  parseAdmissionReview,
  sanitizeWarnings,
} from "../../../src/admission/codec.ts";
import type { Decision } from "../../../src/policy/types.ts";

const request = { uid: "705ab4f5-6393-11e8-b7cc-42010a800002", operation: "CREATE", object: { kind: "Pod" } };

describe("parseAdmissionReview", () => {
  const cases: { name: string; body: string; reason?: RegExp }[] = [
    {
      name: "v1 review",
      body: JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request }),
    },
    {
      name: "v1beta1 review",
      body: JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request }),
    },
    { name: "truncated JSON", body: '{"apiVersion": "admission.k8s.io/v1", "kind": "Adm', reason: /not valid JSON/ },
    { name: "empty body", body: "", reason: /not valid JSON/ },
    { name: "array", body: "[]", reason: /must be a JSON object/ },
    { name: "null", body: "null", reason: /must be a JSON object/ },
    {
      name: "wrong kind",
      body: JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "Pod", request }),
      reason: /kind must be "AdmissionReview", got "Pod"/,
    },
    {
      name: "wrong apiVersion",
      body: JSON.stringify({ apiVersion: "admission.k8s.io/v2", kind: "AdmissionReview", request }),
      reason: /apiVersion "admission.k8s.io\/v2" is not supported/,
    },
    {
      name: "missing request",
      body: JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }),
      reason: /request is missing/,
    },
    {
      name: "missing uid",
      body: JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { operation: "CREATE" },
      }),
      reason: /uid is missing/,
    },
    {
      name: "unknown operation",
      body: JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: { uid: "x", operation: "PATCH" },
      }),
      reason: /operation "PATCH" is not a known operation/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = parseAdmissionReview(c.body);
      if (!c.reason) {
        assert.equal(result.ok, true);
        return;
      }
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.equal(result.error.status, 400);
        assert.match(result.error.reason, c.reason);
      }
    });
  }
});

describe("isJsonMediaType", () => {
  it("accepts application/json with parameters and rejects others", () => {
    assert.equal(isJsonMediaType("application/json"), true);
    assert.equal(isJsonMediaType("Application/JSON; charset=utf-8"), true);
    assert.equal(isJsonMediaType("text/plain"), false);
    assert.equal(isJsonMediaType("application/yaml"), false);
    assert.equal(isJsonMediaType(undefined), false);
  });
});

const decision = (d: Partial<Decision>): Decision => ({
  allowed: true,
  results: [],
  warnings: [],
  auditAnnotations: {},
  patch: [],
  ...d,
});

function review(apiVersion: "admission.k8s.io/v1" | "admission.k8s.io/v1beta1" = "admission.k8s.io/v1"): ParsedReview {
  const parsed = parseAdmissionReview(JSON.stringify({ apiVersion, kind: "AdmissionReview", request }));
  assert.ok(parsed.ok);
  return parsed.review;
}

describe("buildResponse", () => {
  it("echoes uid and the version sent", () => {
    const out = buildResponse(review("admission.k8s.io/v1beta1"), decision({}), "validate");
    assert.equal(out.apiVersion, "admission.k8s.io/v1beta1");
    assert.equal(out.kind, "AdmissionReview");
    assert.deepEqual(out.response, { uid: request.uid, allowed: true });
  });

  it("encodes a patch as base64 JSONPatch on /mutate only", () => {
    const patch = [{ op: "add" as const, path: "/metadata/labels/app.kubernetes.io~1name", value: "x" }];
    const mutated = buildResponse(review(), decision({ patch }), "mutate");
    assert.equal(mutated.response.patchType, "JSONPatch");
    assert.deepEqual(JSON.parse(Buffer.from(mutated.response.patch ?? "", "base64").toString("utf8")), patch);
    const validated = buildResponse(review(), decision({ patch }), "validate");
    assert.equal(validated.response.patch, undefined);
    assert.equal(validated.response.patchType, undefined);
  });

  it("omits patchType when there is no patch", () => {
    const out = buildResponse(review(), decision({ patch: [] }), "mutate");
    assert.equal("patchType" in out.response, false);
    assert.equal("patch" in out.response, false);
    assert.equal(encodePatch([]), undefined);
  });

  it("carries the status code and message of a denial, and no patch", () => {
    const out = buildResponse(
      review(),
      decision({
        allowed: false,
        message: "pod violates restricted",
        code: 422,
        patch: [{ op: "remove", path: "/a" }],
      }),
      "mutate",
    );
    assert.equal(out.response.allowed, false);
    assert.deepEqual(out.response.status, { code: 422, message: "pod violates restricted", reason: "Invalid" });
    assert.equal(out.response.patch, undefined);
  });

  it("defaults the denial code to 403 and ignores codes below 400", () => {
    const out = buildResponse(review(), decision({ allowed: false, message: "no", code: 200 }), "validate");
    assert.equal(out.response.status?.code, 403);
  });

  it("passes warnings on denials and valid audit annotations only", () => {
    const out = buildResponse(
      review(),
      decision({
        allowed: false,
        message: "no",
        warnings: ["restic is deprecated"],
        auditAnnotations: { "policy-result": "fail", "bad key/with slash": "x" },
      }),
      "validate",
    );
    assert.deepEqual(out.response.warnings, ["restic is deprecated"]);
    assert.deepEqual(out.response.auditAnnotations, { "policy-result": "fail" });
  });
});

describe("sanitizeWarnings", () => {
  it("strips a Warning: prefix, newlines and duplicates", () => {
    assert.deepEqual(sanitizeWarnings(["Warning: a\nb", "a b", "", "  "]), ["a b"]);
  });

  it("cuts each warning below 120 characters", () => {
    const [w] = sanitizeWarnings(["x".repeat(500)]);
    assert.equal(w?.length, MAX_WARNING_LENGTH);
    assert.ok(w?.endsWith("..."));
  });

  it("keeps the total under 4,096 characters and says how many were left out", () => {
    const many = Array.from({ length: 100 }, (_, i) => `warning number ${i} `.padEnd(110, "."));
    const out = sanitizeWarnings(many);
    const total = out.reduce((n, w) => n + w.length, 0);
    assert.ok(total < 4096, `total ${total}`);
    assert.match(out.at(-1) ?? "", /^\d+ more warnings omitted$/);
    const omitted = Number((out.at(-1) ?? "").split(" ")[0]);
    assert.equal(out.length - 1 + omitted, 100);
  });
});
