import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { DAY_MS, defaultRotation, planRotation, type RotationConfig } from "../../../src/admission/cert-rotation.ts";
import { CertificateHolder } from "../../../src/admission/certificate-holder.ts";
import { certificateInfo, isSignedBy, splitPemBundle } from "../../../src/admission/certs.ts";
import { SelfManagedCertificates, stateFromSecret } from "../../../src/admission/certs-self-managed.ts";
import type { SecretStore, StoredSecret } from "../../../src/kube/secrets.ts";

const config: RotationConfig = {
  ...defaultRotation,
  commonName: "skiff-webhook",
  hosts: ["skiff-webhook.skiff-system.svc", "skiff-webhook.skiff-system.svc.cluster.local", "127.0.0.1"],
};
const t0 = new Date("2026-01-01T00:00:00Z");
const at = (days: number, extraMs = 0) => new Date(t0.getTime() + days * DAY_MS + extraMs);

describe("planRotation", () => {
  it("creates a CA and a serving certificate with the service SANs", () => {
    const plan = planRotation(undefined, t0, config);
    assert.equal(plan.changed, true);
    const serving = certificateInfo(plan.state.serving.certPem);
    assert.deepEqual(serving.dnsNames, config.hosts.slice(0, 2));
    assert.deepEqual(serving.ipAddresses, ["127.0.0.1"]);
    assert.ok(isSignedBy(plan.state.serving.certPem, plan.state.ca.certPem));
    assert.equal(splitPemBundle(plan.state.caBundle).length, 1);
    assert.ok(serving.notAfter.getTime() - t0.getTime() <= 30 * DAY_MS);
  });

  it("changes nothing while certificates are fresh", () => {
    const first = planRotation(undefined, t0, config).state;
    const again = planRotation(first, at(10), config);
    assert.equal(again.changed, false);
  });

  it("renews the serving certificate at two thirds of its life", () => {
    const first = planRotation(undefined, t0, config).state;
    const renewed = planRotation(first, at(21), config);
    assert.equal(renewed.changed, true);
    assert.notEqual(renewed.state.serving.certPem, first.serving.certPem);
    assert.equal(renewed.state.ca.certPem, first.ca.certPem);
  });

  it("rolls the CA over in two steps with both CAs in the bundle", () => {
    let state = planRotation(undefined, t0, config).state;
    // Keep the serving certificate fresh until the CA is due (day 244 > 2/3 of 365).
    for (let day = 20; day < 240; day += 20) state = planRotation(state, at(day), config).state;
    const oldCA = state.ca.certPem;
    const stepOne = planRotation(state, at(244), config);
    assert.equal(stepOne.changed, true);
    assert.notEqual(stepOne.state.ca.certPem, oldCA);
    const bundle = splitPemBundle(stepOne.state.caBundle).map((p) => p.trim());
    assert.deepEqual(bundle, [stepOne.state.ca.certPem.trim(), oldCA.trim()]);
    // Serving stays on the old CA until the bundle has propagated.
    assert.equal(stepOne.state.serving.certPem, state.serving.certPem);
    assert.ok(stepOne.state.rolloverStartedAt);
    assert.equal(planRotation(stepOne.state, at(244, 1000), config).changed, false);
    const stepTwo = planRotation(stepOne.state, at(244, config.propagationDelayMs), config);
    assert.ok(isSignedBy(stepTwo.state.serving.certPem, stepTwo.state.ca.certPem));
    assert.equal(stepTwo.state.rolloverStartedAt, undefined);
    assert.equal(splitPemBundle(stepTwo.state.caBundle).length, 2);
    // The old CA leaves the bundle once it has expired.
    let later = stepTwo.state;
    for (let day = 260; day <= 380; day += 15) later = planRotation(later, at(day), config).state;
    assert.equal(splitPemBundle(later.caBundle).length, 1);
  });

  it("regenerates everything when the stored pair is broken", () => {
    const first = planRotation(undefined, t0, config).state;
    const broken = { ...first, serving: { certPem: first.serving.certPem, keyPem: first.ca.keyPem } };
    const plan = planRotation(broken, at(1), config);
    assert.equal(plan.changed, true);
    assert.match(plan.reasons.join(";"), /tls.key does not match/);
  });

  it("reissues the serving certificate when the hosts change", () => {
    const first = planRotation(undefined, t0, config).state;
    const plan = planRotation(first, at(1), { ...config, hosts: [...config.hosts, "webhook.example"] });
    assert.equal(plan.changed, true);
    assert.ok(certificateInfo(plan.state.serving.certPem).dnsNames.includes("webhook.example"));
  });
});

/** A Secret store with real optimistic concurrency semantics, shared by two "replicas". */
function memoryStore(): SecretStore & { version: number; current?: StoredSecret } {
  const store = {
    namespace: "skiff-system",
    name: "skiff-webhook-certs",
    version: 0,
    current: undefined as StoredSecret | undefined,
    async read() {
      return store.current ? structuredClone(store.current) : undefined;
    },
    async write(secret: StoredSecret) {
      if ((secret.resourceVersion ?? "") !== (store.current?.resourceVersion ?? "")) {
        throw Object.assign(new Error("conflict"), { code: 409 });
      }
      store.version++;
      store.current = { ...structuredClone(secret), resourceVersion: String(store.version) };
      return structuredClone(store.current);
    },
  };
  return store;
}

describe("SelfManagedCertificates", () => {
  it("lets one of two replicas win, injects the bundle, and both serve the same certificate", async () => {
    const store = memoryStore();
    const injected: string[] = [];
    const injector = {
      async inject(bundle: string) {
        if (injected.at(-1) === bundle) return [];
        injected.push(bundle);
        return ["skiff-validating"];
      },
    };
    let now = t0;
    const logger = pino({ level: "silent" });
    const holders = [new CertificateHolder(), new CertificateHolder()];
    const replicas = holders.map(
      (holder) => new SelfManagedCertificates({ store, injector, holder, config, now: () => now, logger }),
    );
    await Promise.all(replicas.map((r) => r.reconcile()));
    assert.equal(store.version, 1, "only one replica created the Secret");
    assert.equal(holders[0]?.current()?.certPem, holders[1]?.current()?.certPem);
    assert.equal(injected.length, 1);

    // Renew the serving certificate on the way, then reach the CA's renewal time: step one puts both CAs
    // in the bundle before serving moves.
    for (let day = 20; day < 240; day += 20) {
      now = at(day);
      await replicas[day % 40 === 0 ? 0 : 1]?.reconcile();
    }
    now = at(244);
    await replicas[0]?.reconcile();
    const afterStepOne = stateFromSecret(store.current);
    assert.ok(afterStepOne?.rolloverStartedAt);
    assert.equal(splitPemBundle(injected.at(-1) ?? "").length, 2);
    assert.ok(!isSignedBy(holders[0]?.current()?.certPem ?? "", afterStepOne?.ca.certPem ?? ""));

    now = at(244, config.propagationDelayMs);
    await replicas[1]?.reconcile();
    const afterStepTwo = stateFromSecret(store.current);
    assert.ok(isSignedBy(holders[1]?.current()?.certPem ?? "", afterStepTwo?.ca.certPem ?? ""));
    // The other replica picks the new certificate up from the Secret.
    replicas[0]?.adopt(store.current);
    assert.equal(holders[0]?.current()?.certPem, afterStepTwo?.serving.certPem);
  });
});
