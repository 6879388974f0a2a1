/**
 * Wires the webhook process together: watch caches and policy sources, certificates, the HTTPS server. The
 * CLI command and the integration tests both start it through startWebhook; everything it needs from
 * outside (KubeConfig, clock, logger, rotation timings) can be injected.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig, V1Secret } from "@kubernetes/client-node";
import { loadKubeConfig } from "../kube/client.ts";
import { type CachedKind, watchedClusterView } from "../kube/cluster-view.ts";
import { kubeDiscovery } from "../kube/discovery.ts";
import { kubeEventRecorder } from "../kube/events.ts";
import { decodeSecret, kubeSecretStore } from "../kube/secrets.ts";
import { startWatchCache } from "../kube/watch-cache.ts";
import { kubeCABundleInjector } from "../kube/webhook-configurations.ts";
import { createLogger, type Logger } from "../log.ts";
import type { CompiledPolicySet } from "../policy/index.ts";
import { createAdmissionListener } from "./app.ts";
import { defaultRotation, type RotationConfig } from "./cert-rotation.ts";
import { CertificateHolder } from "./certificate-holder.ts";
import { certificateInfo, serviceHosts } from "./certs.ts";
import { watchCertificateFiles } from "./certs-files.ts";
import { SelfManagedCertificates } from "./certs-self-managed.ts";
import { CLUSTER_SOURCE, watchClusterPolicies } from "./cluster-policies.ts";
import { type AdmissionMetrics, createAdmissionMetrics } from "./metrics.ts";
import { watchPolicyFolder } from "./policy-files.ts";
import { PolicyStore } from "./policy-store.ts";
import { startAdmissionServer } from "./server.ts";
import type { WebhookOptions } from "./webhook-options.ts";

export interface WebhookDependencies {
  kubeConfig?: KubeConfig;
  logger?: Logger;
  now?: () => Date;
  rotation?: Partial<Omit<RotationConfig, "hosts" | "commonName">>;
  /** How often self-managed certificates are re-checked. */
  certificateCheckMs?: number;
}

export interface RunningWebhook {
  url: string;
  port: number;
  metrics: AdmissionMetrics;
  store: PolicyStore;
  certificates: CertificateHolder;
  selfManaged?: SelfManagedCertificates;
  /** Resolves once policies, watch caches and certificates are all loaded (what /readyz reports). */
  whenReady(timeoutMs?: number): Promise<void>;
  /** Not ready at once, keep serving for shutdownDelayMs, stop accepting, finish in-flight reviews. */
  close(): Promise<void>;
}

const FILES_SOURCE = "files";

// lookup('<apiVersion>', '<Kind>', ...) calls with literal arguments: the kinds a policy reads at evaluation.
const lookupCall = /lookup\(\s*\\?['"]([^'"\\]+)\\?['"]\s*,\s*\\?['"]([^'"\\]+)\\?['"]/g;

/** Every kind the compiled policies read through the ClusterView (params and lookup()), to be watched. */
export function viewKinds(set: CompiledPolicySet): CachedKind[] {
  const kinds: CachedKind[] = [];
  for (const p of set.policies) {
    const params = p.params;
    const ns = params?.namespace ? { namespace: params.namespace } : {};
    if (params?.configMapRef) kinds.push({ apiVersion: "v1", kind: "ConfigMap", ...ns });
    if (params?.resourceRef)
      kinds.push({ apiVersion: params.resourceRef.apiVersion, kind: params.resourceRef.kind, ...ns });
    for (const m of JSON.stringify(p.document.spec).matchAll(lookupCall)) {
      kinds.push({ apiVersion: m[1] as string, kind: m[2] as string });
    }
  }
  return kinds;
}

export async function startWebhook(options: WebhookOptions, deps: WebhookDependencies = {}): Promise<RunningWebhook> {
  const logger = deps.logger ?? createLogger({ name: "skiff-webhook" });
  const now = deps.now ?? (() => new Date());
  const kc = deps.kubeConfig ?? loadKubeConfig({ kubeconfig: options.kubeconfig });
  const metrics = createAdmissionMetrics();
  const stops: (() => unknown)[] = [];

  const view = watchedClusterView(kc, kubeDiscovery(kc), logger);
  stops.push(() => view.stop());
  const required = [...(options.policyDir ? [FILES_SOURCE] : []), ...(options.clusterPolicies ? [CLUSTER_SOURCE] : [])];
  const store = new PolicyStore({
    installNamespace: options.namespace,
    view,
    viewReady: view.ready,
    logger,
    metrics,
    requiredSources: required,
  });
  store.onCompiled((set) => {
    view.ensure(viewKinds(set)).catch((err) => logger.warn({ err }, "cannot watch policy params"));
  });
  if (required.length === 0) store.update("none", { policies: [], errors: [] });
  // Params of the shipped policies live in Skiff's namespace: start that cache before the first review.
  await view.ensure([{ apiVersion: "v1", kind: "ConfigMap", namespace: options.namespace }]);
  if (options.policyDir) {
    const folder = watchPolicyFolder(options.policyDir, (c) => store.update(FILES_SOURCE, c), logger);
    stops.push(() => folder.stop());
    await folder.reload();
  }
  if (options.clusterPolicies) {
    const cluster = watchClusterPolicies(kc, store, kubeEventRecorder(kc, "skiff-webhook"), logger);
    stops.push(() => cluster.stop());
  }

  const certificates = new CertificateHolder();
  let selfManaged: SelfManagedCertificates | undefined;
  if (options.certMode === "files") {
    const files = watchCertificateFiles({
      certFile: options.tlsCertFile as string,
      keyFile: options.tlsKeyFile as string,
      holder: certificates,
      logger,
      onLoaded: (notAfter) => metrics.certificateExpiry.set({ certificate: "serving" }, notAfter.getTime() / 1000),
    });
    stops.push(() => files.stop());
    await files.reload();
  } else {
    const store = kubeSecretStore(kc, options.namespace, options.certSecret, {
      "app.kubernetes.io/name": "skiff-webhook",
    });
    selfManaged = new SelfManagedCertificates({
      store,
      injector: kubeCABundleInjector(kc, {
        mutating: options.mutatingConfigurations,
        validating: options.validatingConfigurations,
      }),
      holder: certificates,
      config: {
        ...defaultRotation,
        ...deps.rotation,
        commonName: options.serviceName,
        hosts: serviceHosts(options.serviceName, options.namespace, options.extraHosts),
      },
      now,
      logger,
      metrics,
    });
    const manager = selfManaged;
    // Another replica's rotation arrives through the watch; the timer covers missed events.
    const secretWatch = startWatchCache<V1Secret>(
      kc,
      {
        apiVersion: "v1",
        kind: "Secret",
        plural: "secrets",
        namespace: options.namespace,
        fieldSelector: `metadata.name=${options.certSecret}`,
      },
      logger,
    );
    secretWatch.onChange((event, secret) => {
      if (event !== "delete") manager.adopt(decodeSecret(secret));
    });
    stops.push(
      () => secretWatch.stop(),
      () => manager.stop(),
    );
    await manager.start(deps.certificateCheckMs ?? 60_000);
  }
  const serving = certificates.current();
  if (serving)
    logger.info({ notAfter: certificateInfo(serving.certPem).notAfter.toISOString() }, "serving certificate");

  let draining = false;
  const app = createAdmissionListener({
    evaluator: store,
    metrics,
    logger,
    bodyLimit: options.bodyLimit,
    certificateReady: () => certificates.current() !== undefined,
    draining: () => draining,
  });
  const server = await startAdmissionServer({
    app,
    certificates,
    host: options.bindAddress,
    port: options.port,
    logger,
  });
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    metrics,
    store,
    certificates,
    ...(selfManaged ? { selfManaged } : {}),
    async whenReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!(store.ready() && certificates.current())) {
        if (Date.now() > deadline) throw new Error(`webhook not ready after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    close() {
      closing ??= (async () => {
        draining = true;
        if (options.shutdownDelayMs > 0) {
          logger.info({ delayMs: options.shutdownDelayMs }, "shutting down: not ready, still serving");
          await sleep(options.shutdownDelayMs);
        }
        await server.close(options.shutdownGraceMs);
        for (const stop of stops.reverse()) await stop();
        logger.info("webhook stopped");
      })();
      return closing;
    },
  };
}
