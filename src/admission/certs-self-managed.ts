/**
 * Self-managed certificates: a CA and serving certificate kept in a Secret, the CA bundle kept in the webhook
 * configurations, both rotated by planRotation. Every replica runs this; writes use optimistic concurrency,
 * so exactly one replica wins each rotation and the others load the result from the Secret (watch or poll).
 * The clock is injected so tests can move time forward.
 */

import type { SecretStore, StoredSecret } from "../kube/secrets.ts";
import type { CABundleInjector } from "../kube/webhook-configurations.ts";
import type { Logger } from "../log.ts";
import { type CertState, planRotation, type RotationConfig } from "./cert-rotation.ts";
import type { CertificateHolder } from "./certificate-holder.ts";
import { certificateInfo } from "./certs.ts";
import type { AdmissionMetrics } from "./metrics.ts";

const ROLLOVER_ANNOTATION = "skiff.dev/ca-rollover-started";

export function stateFromSecret(secret: StoredSecret | undefined): CertState | undefined {
  const d = secret?.data;
  if (!d?.["ca.crt"] || !d["ca.key"] || !d["tls.crt"] || !d["tls.key"]) return undefined;
  const started = secret?.annotations[ROLLOVER_ANNOTATION];
  const date = started ? new Date(started) : undefined;
  return {
    ca: { certPem: d["ca.crt"], keyPem: d["ca.key"] },
    caBundle: d["ca-bundle.crt"] ?? d["ca.crt"],
    serving: { certPem: d["tls.crt"], keyPem: d["tls.key"] },
    ...(date && !Number.isNaN(date.getTime()) ? { rolloverStartedAt: date } : {}),
  };
}

export function secretFromState(state: CertState, base: StoredSecret | undefined): StoredSecret {
  const annotations = { ...(base?.annotations ?? {}) };
  if (state.rolloverStartedAt) annotations[ROLLOVER_ANNOTATION] = state.rolloverStartedAt.toISOString();
  else delete annotations[ROLLOVER_ANNOTATION];
  return {
    data: {
      "ca.crt": state.ca.certPem,
      "ca.key": state.ca.keyPem,
      "ca-bundle.crt": state.caBundle,
      "tls.crt": state.serving.certPem,
      "tls.key": state.serving.keyPem,
    },
    annotations,
    resourceVersion: base?.resourceVersion,
  };
}

export interface SelfManagedOptions {
  store: SecretStore;
  injector: CABundleInjector;
  holder: CertificateHolder;
  config: RotationConfig;
  now: () => Date;
  logger: Logger;
  metrics?: AdmissionMetrics;
}

export class SelfManagedCertificates {
  private readonly options: SelfManagedOptions;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SelfManagedOptions) {
    this.options = options;
  }

  /** Loads the serving pair of a Secret (e.g. one another replica wrote) without planning anything. */
  adopt(secret: StoredSecret | undefined): void {
    const state = stateFromSecret(secret);
    if (state) this.install(state);
  }

  /** One pass: make sure the Secret, the webhook configurations and this process agree and are current. */
  reconcile(): Promise<void> {
    // Serialised: a timer tick and a watch event never plan at the same time in one process.
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Reconciles now and then every intervalMs; errors are logged and retried on the next tick. */
  start(intervalMs = 60_000): Promise<void> {
    const tick = () =>
      this.reconcile().catch((err) => this.options.logger.error({ err }, "certificate reconcile failed; will retry"));
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    return this.reconcile();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async pass(): Promise<void> {
    const { store, config, logger } = this.options;
    for (let attempt = 0; attempt < 5; attempt++) {
      const stored = await store.read();
      const current = stateFromSecret(stored);
      // The stored bundle must be in the configurations before any plan may move serving to a newer CA.
      if (current) await this.injectBundle(current.caBundle);
      const plan = planRotation(current, this.options.now(), config);
      if (!plan.changed) {
        if (current) this.install(current);
        return;
      }
      let written: StoredSecret;
      try {
        written = await store.write(secretFromState(plan.state, stored));
      } catch (err) {
        if ((err as { code?: number }).code === 409) {
          logger.info(
            { secret: `${store.namespace}/${store.name}` },
            "another replica updated the certificates; re-reading",
          );
          continue;
        }
        throw err;
      }
      logger.info({ secret: `${store.namespace}/${store.name}`, reasons: plan.reasons }, "certificates updated");
      await this.injectBundle(plan.state.caBundle);
      this.adopt(written);
      return;
    }
    throw new Error(`updating Secret ${store.namespace}/${store.name}: still conflicting after 5 attempts`);
  }

  private async injectBundle(bundle: string): Promise<void> {
    const changed = await this.options.injector.inject(bundle);
    if (changed.length > 0) this.options.logger.info({ configurations: changed }, "caBundle updated");
  }

  private install(state: CertState): void {
    if (!this.options.holder.set(state.serving)) {
      this.options.logger.error("the stored serving certificate does not match its key; keeping the current one");
      return;
    }
    const m = this.options.metrics;
    if (m) {
      m.certificateExpiry.set(
        { certificate: "serving" },
        certificateInfo(state.serving.certPem).notAfter.getTime() / 1000,
      );
      m.certificateExpiry.set({ certificate: "ca" }, certificateInfo(state.ca.certPem).notAfter.getTime() / 1000);
    }
  }
}
