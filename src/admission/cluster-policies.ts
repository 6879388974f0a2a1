/**
 * Policies stored in the cluster (BackupPolicy, ClusterBackupPolicy of policy.skiff.dev/v1alpha1), kept in
 * watch caches and fed to the PolicyStore on every change. Whether each one loaded is reported where its
 * author looks: a Ready condition in its status and an Event (once per change, not on every recompile).
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { EventRecorder } from "../kube/events.ts";
import { patchCustomStatus } from "../kube/events.ts";
import { startWatchCache, type WatchCache } from "../kube/watch-cache.ts";
import type { Logger } from "../log.ts";
import {
  formatLoadError,
  type PolicyDocument,
  type PolicyLoadError,
  policyApiVersion,
  validatePolicyDocument,
} from "../policy/index.ts";
import type { PolicyStore, SourceContents } from "./policy-store.ts";

const kinds = [
  { kind: "BackupPolicy", plural: "backuppolicies" },
  { kind: "ClusterBackupPolicy", plural: "clusterbackuppolicies" },
] as const;

export const CLUSTER_SOURCE = "cluster";

interface PolicyObject extends KubernetesObject {
  spec?: unknown;
}

export function sourceName(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return `cluster:${obj.kind}/${ns ? `${ns}/` : ""}${obj.metadata?.name}`;
}

/** Validates the cached objects; invalid ones become load errors. Pure. */
export function collectClusterPolicies(objects: readonly KubernetesObject[]): SourceContents {
  const out: SourceContents = { policies: [], errors: [] };
  for (const obj of objects) {
    const { status: _status, ...rest } = obj as KubernetesObject & { status?: unknown };
    const metadata = obj.metadata ?? {};
    const document = {
      ...rest,
      metadata: {
        name: metadata.name,
        ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
        ...(metadata.labels ? { labels: metadata.labels } : {}),
        ...(metadata.annotations ? { annotations: metadata.annotations } : {}),
      },
    };
    const checked = validatePolicyDocument(document, { name: sourceName(obj), origin: "cluster" });
    out.errors.push(...checked.errors);
    if (checked.policy) out.policies.push(checked.policy as PolicyDocument);
  }
  return out;
}

export interface ClusterPolicies {
  ready(): boolean;
  stop(): Promise<void>;
}

export function watchClusterPolicies(
  kc: KubeConfig,
  store: PolicyStore,
  events: EventRecorder,
  logger: Logger,
): ClusterPolicies {
  const caches: WatchCache<PolicyObject>[] = kinds.map((k) =>
    startWatchCache<PolicyObject>(kc, { apiVersion: policyApiVersion, kind: k.kind, plural: k.plural }, logger, {
      // Without the CRD there are simply no cluster policies; keep watching for it to appear.
      emptyWhenMissing: true,
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  let last: string | undefined;
  const push = () => {
    if (!caches.every((c) => c.isSynced())) return;
    const contents = collectClusterPolicies(caches.flatMap((c) => c.list()));
    // A status update (including this webhook's own) changes nothing to compile.
    const text = JSON.stringify(contents);
    if (text === last) return;
    last = text;
    store.update(CLUSTER_SOURCE, contents);
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(push, 50);
  };
  for (const c of caches) {
    c.onChange(schedule);
    void c.synced().then(schedule);
  }

  // Report per object, only when what there is to say changed.
  const reported = new Map<string, string>();
  store.onCompiled((_set, errors) => {
    const byObject = new Map<string, PolicyLoadError[]>();
    for (const e of errors) {
      if (!e.source.startsWith("cluster:")) continue;
      const key = e.source.replace(/#\d+$/, "");
      byObject.set(key, [...(byObject.get(key) ?? []), e]);
    }
    const present = new Set<string>();
    for (const cache of caches) {
      for (const obj of cache.list()) {
        const key = sourceName(obj);
        present.add(key);
        const problems = byObject.get(key) ?? [];
        const message = problems.length === 0 ? "policy loaded" : problems.map(formatLoadError).join("; ");
        const fingerprint = `${obj.metadata?.generation ?? ""}|${message}`;
        if (reported.get(key) === fingerprint) continue;
        reported.set(key, fingerprint);
        void report(kc, events, obj, problems.length === 0, message).catch((err) =>
          logger.warn({ policy: key, err: (err as Error).message }, "cannot report policy status"),
        );
      }
    }
    // Forget deleted policies, so the map stays as small as the set of policies.
    for (const key of reported.keys()) if (!present.has(key)) reported.delete(key);
  });

  return {
    ready: () => caches.every((c) => c.isSynced()),
    async stop() {
      clearTimeout(timer);
      await Promise.all(caches.map((c) => c.stop()));
    },
  };
}

async function report(kc: KubeConfig, events: EventRecorder, obj: KubernetesObject, ok: boolean, message: string) {
  const plural = kinds.find((k) => k.kind === obj.kind)?.plural ?? "";
  const ref = {
    apiVersion: obj.apiVersion ?? policyApiVersion,
    kind: obj.kind ?? "",
    name: obj.metadata?.name ?? "",
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
    ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
  };
  await events.record(ref, ok ? "Normal" : "Warning", ok ? "PolicyLoaded" : "PolicyInvalid", message);
  await patchCustomStatus(
    kc,
    { ...ref, plural },
    {
      observedGeneration: obj.metadata?.generation,
      conditions: [
        {
          type: "Ready",
          status: ok ? "True" : "False",
          reason: ok ? "Loaded" : "Invalid",
          message,
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    },
  );
}
