import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { createAdmissionListener } from "../../../src/admission/app.ts";
import { CertificateHolder } from "../../../src/admission/certificate-holder.ts";
import { certificateInfo, createCA, createServingCertificate, type KeyPair } from "../../../src/admission/certs.ts";
import type { AdmissionEvaluator } from "../../../src/admission/evaluator.ts";
import { createAdmissionMetrics } from "../../../src/admission/metrics.ts";
import { type RunningServer, startAdmissionServer } from "../../../src/admission/server.ts";
import type { Decision } from "../../../src/policy/types.ts";

interface Reply {
  status: number;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON replies
  json: () => any;
  peerFingerprint: string;
}

function post(
  server: RunningServer,
  ca: string,
  path: string,
  body: string | Buffer,
  contentType = "application/json",
) {
  return new Promise<Reply>((resolve, reject) => {
    const req = httpsRequest(
      `${server.url}${path}`,
      { method: "POST", ca, headers: { "content-type": contentType }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const fingerprint =
          (res.socket as import("node:tls").TLSSocket).getPeerX509Certificate?.()?.fingerprint256 ?? "";
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            json: () => JSON.parse(text),
            peerFingerprint: fingerprint,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function get(server: RunningServer, ca: string, path: string) {
  return new Promise<Reply>((resolve, reject) => {
    httpsRequest(`${server.url}${path}`, { ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text, json: () => JSON.parse(text), peerFingerprint: "" });
      });
    })
      .on("error", reject)
      .end();
  });
}

const review = (uid: string, object: unknown) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid, operation: "CREATE", kind: { group: "", version: "v1", kind: "Pod" }, object },
  });

describe("admission HTTPS server", () => {
  let ca: KeyPair;
  let server: RunningServer;
  let ready = false;
  const holder = new CertificateHolder();
  const metrics = createAdmissionMetrics();
  // Denies objects labelled deny=true, patches otherwise, echoes the object's name in a warning.
  const evaluator: AdmissionEvaluator = {
    ready: () => ready,
    loaded: () => ready,
    evaluate(request): Decision {
      const object = request.object as { metadata?: { name?: string; labels?: Record<string, string> } };
      if (object?.metadata?.labels?.deny === "true") {
        return {
          allowed: false,
          message: `pod ${object.metadata.name} is denied`,
          code: 403,
          results: [{ policy: "test-policy", rule: "deny", outcome: "fail", action: "Deny" }],
          warnings: [],
          auditAnnotations: {},
          patch: [],
        };
      }
      if (object?.metadata?.name === "boom") throw new Error("engine bug");
      if (object?.metadata?.name === "bigint") {
        // A value JSON cannot encode must not take the process down.
        return {
          allowed: true,
          results: [],
          warnings: [],
          auditAnnotations: {},
          patch: [{ op: "add", path: "/spec/n", value: 1n }],
        };
      }
      return {
        allowed: true,
        results: [{ policy: "test-policy", rule: "label", outcome: "mutated" }],
        warnings: [`saw ${object?.metadata?.name}`],
        auditAnnotations: {},
        patch: [{ op: "add", path: "/metadata/annotations", value: { seen: String(object?.metadata?.name) } }],
      };
    },
  };

  before(async () => {
    const now = new Date();
    ca = createCA({ commonName: "test CA", now, validityMs: 86_400_000 });
    holder.set(
      createServingCertificate({ ca, commonName: "localhost", hosts: ["127.0.0.1"], now, validityMs: 86_400_000 }),
    );
    const logger = pino({ level: "silent" });
    const app = createAdmissionListener({ evaluator, metrics, logger, bodyLimit: 64 * 1024 });
    server = await startAdmissionServer({ app, certificates: holder, host: "127.0.0.1", port: 0, logger });
  });
  after(() => server.close(100));

  it("is live at once and ready only when policies are loaded", async () => {
    assert.equal((await get(server, ca.certPem, "/healthz")).status, 200);
    const notReady = await get(server, ca.certPem, "/readyz");
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /policies not loaded/);
    // No verdict without policies: a 503 lets the apiserver apply the webhook's failurePolicy.
    const early = await post(server, ca.certPem, "/validate", review("u0", { metadata: { name: "a" } }));
    assert.equal(early.status, 503);
    ready = true;
    assert.equal((await get(server, ca.certPem, "/readyz")).status, 200);
  });

  it("answers /mutate with a patch and /validate without", async () => {
    const m = (await post(server, ca.certPem, "/mutate", review("u1", { metadata: { name: "a" } }))).json();
    assert.equal(m.response.uid, "u1");
    assert.equal(m.response.patchType, "JSONPatch");
    assert.deepEqual(m.response.warnings, ["saw a"]);
    const v = (await post(server, ca.certPem, "/validate", review("u2", { metadata: { name: "a" } }))).json();
    assert.equal(v.response.patch, undefined);
    assert.equal(v.response.patchType, undefined);
  });

  it("returns the denial status", async () => {
    const r = await post(
      server,
      ca.certPem,
      "/validate",
      review("u3", { metadata: { name: "p", labels: { deny: "true" } } }),
    );
    assert.equal(r.status, 200);
    assert.deepEqual(r.json().response.status, { code: 403, message: "pod p is denied", reason: "Forbidden" });
  });

  it("answers an engine exception with a 500 denial and keeps serving", async () => {
    const r = (await post(server, ca.certPem, "/validate", review("u4", { metadata: { name: "boom" } }))).json();
    assert.equal(r.response.allowed, false);
    assert.equal(r.response.status.code, 500);
    assert.equal((await get(server, ca.certPem, "/healthz")).status, 200);
  });

  it("answers a decision it cannot encode with an internal-error denial and keeps serving", async () => {
    const r = await post(server, ca.certPem, "/mutate", review("u5", { metadata: { name: "bigint" } }));
    assert.equal(r.status, 200);
    assert.equal(r.json().response.allowed, false, r.body);
    assert.equal(r.json().response.status.code, 500);
    assert.equal((await get(server, ca.certPem, "/healthz")).status, 200);
  });

  it("passes DELETE reviews (object null, oldObject set) to the evaluator", async () => {
    const body = JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: { uid: "del", operation: "DELETE", object: null, oldObject: { metadata: { name: "old" } } },
    });
    const r = (await post(server, ca.certPem, "/validate", body)).json();
    assert.equal(r.response.uid, "del");
    assert.equal(r.response.allowed, true);
  });

  it("rejects malformed, oversized and non-JSON bodies with a JSON error", async () => {
    const malformed = await post(server, ca.certPem, "/validate", "{not json");
    assert.equal(malformed.status, 400);
    assert.match(malformed.json().error, /not valid JSON/);
    const noUid = await post(
      server,
      ca.certPem,
      "/validate",
      JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {} }),
    );
    assert.equal(noUid.status, 400);
    assert.match(noUid.json().error, /uid/);
    const big = await post(server, ca.certPem, "/mutate", Buffer.alloc(65 * 1024, 0x20));
    assert.equal(big.status, 413);
    assert.match(big.json().error, /exceeds the limit/);
    const yaml = await post(server, ca.certPem, "/mutate", "kind: AdmissionReview", "application/yaml");
    assert.equal(yaml.status, 415);
    assert.equal(metrics.requests.get({ route: "/mutate", result: "rejected", code: "413" }), 1);
  });

  it("keeps concurrent reviews apart", async () => {
    const names = Array.from({ length: 50 }, (_, i) => `pod-${i}`);
    const replies = await Promise.all(
      names.map((name) => post(server, ca.certPem, "/mutate", review(`uid-${name}`, { metadata: { name } }))),
    );
    replies.forEach((r, i) => {
      const body = r.json();
      assert.equal(body.response.uid, `uid-${names[i]}`);
      assert.deepEqual(body.response.warnings, [`saw ${names[i]}`]);
      const patch = JSON.parse(Buffer.from(body.response.patch, "base64").toString());
      assert.equal(patch[0].value.seen, names[i]);
    });
  });

  it("exposes Prometheus metrics", async () => {
    const text = (await get(server, ca.certPem, "/metrics")).body;
    assert.match(text, /skiff_admission_requests_total\{route="\/mutate",result="patched",code="200"\} \d+/);
    assert.match(text, /skiff_admission_request_duration_seconds_bucket\{route="\/validate",le="\+Inf"\} \d+/);
    assert.match(text, /skiff_policy_results_total\{policy="test-policy",outcome="fail",action="Deny"\} 1/);
  });

  it("serves a new certificate to new connections without a restart", async () => {
    const now = new Date();
    const next = createServingCertificate({ ca, commonName: "next", hosts: ["127.0.0.1"], now, validityMs: 3_600_000 });
    assert.ok(holder.set(next));
    const r = await post(server, ca.certPem, "/validate", review("u9", { metadata: { name: "a" } }));
    assert.equal(r.peerFingerprint, certificateInfo(next.certPem).fingerprint);
  });

  it("refuses a certificate whose key does not match", () => {
    const a = createServingCertificate({
      ca,
      commonName: "a",
      hosts: ["127.0.0.1"],
      now: new Date(),
      validityMs: 1000,
    });
    assert.equal(holder.set({ certPem: a.certPem, keyPem: ca.keyPem }), false);
  });
});
