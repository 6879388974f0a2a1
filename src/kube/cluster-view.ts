/**
 * The policy engine's ClusterView backed by watch caches: Namespaces always, and whatever the loaded policies
 * name as params (ConfigMaps per namespace, any other resource by kind). Lookups are synchronous map reads;
 * a cache that is still loading answers "not found", and readiness waits for the namespace cache.
 */
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import type { ClusterView, KubeObject, ResourceRef } from "../policy/index.ts";
import type { Discovery } from "./discovery.ts";
import { startWatchCache, type WatchCache } from "./watch-cache.ts";

/** A kind the view should cache: in one namespace, or (namespace omitted) everywhere / cluster-scoped. */
export interface CachedKind {
  apiVersion: string;
  kind: string;
  namespace?: string;
}

export interface WatchedClusterView extends ClusterView {
  /** Starts caches for kinds not cached yet (never stops one: the set of params kinds is small). */
  ensure(kinds: readonly CachedKind[]): Promise<void>;
  ready(): boolean;
  synced(): Promise<void>;
  stop(): Promise<void>;
}

const keyOf = (k: CachedKind) => `${k.apiVersion}|${k.kind}|${k.namespace ?? "*"}`;

export function watchedClusterView(kc: KubeConfig, discovery: Discovery, logger: Logger): WatchedClusterView {
  const namespaces = startWatchCache<KubernetesObject>(
    kc,
    { apiVersion: "v1", kind: "Namespace", plural: "namespaces" },
    logger,
  );
  const caches = new Map<string, WatchCache | Promise<WatchCache | undefined>>();
  const lookup = (k: CachedKind) => {
    const c = caches.get(keyOf(k));
    return c && !(c instanceof Promise) ? c : undefined;
  };
  return {
    getNamespace: (name) => namespaces.get(name) as KubeObject | undefined,
    getResource(ref: ResourceRef) {
      if (ref.apiVersion === "v1" && ref.kind === "Namespace")
        return namespaces.get(ref.name) as KubeObject | undefined;
      const exact = lookup(ref)?.get(ref.name, ref.namespace);
      if (exact) return exact as KubeObject;
      return lookup({ apiVersion: ref.apiVersion, kind: ref.kind })?.get(ref.name, ref.namespace) as
        | KubeObject
        | undefined;
    },
    async ensure(kinds) {
      await Promise.all(
        kinds.map(async (k) => {
          const key = keyOf(k);
          if (caches.has(key) || (k.apiVersion === "v1" && k.kind === "Namespace")) return;
          const starting = (async () => {
            try {
              const info = await discovery(k.apiVersion, k.kind);
              const cache = startWatchCache(
                kc,
                {
                  apiVersion: k.apiVersion,
                  kind: k.kind,
                  plural: info.plural,
                  ...(info.namespaced && k.namespace ? { namespace: k.namespace } : {}),
                },
                logger,
              );
              caches.set(key, cache);
              await cache.synced();
              return cache;
            } catch (err) {
              // Retried on the next policy change; the policy sees "params not found" meanwhile.
              caches.delete(key);
              logger.warn(
                { kind: k.kind, apiVersion: k.apiVersion, err: (err as Error).message },
                "cannot watch params",
              );
              return undefined;
            }
          })();
          caches.set(key, starting);
          await starting;
        }),
      );
    },
    // Params and lookups answer "not found" until their cache has loaded: not ready before that.
    ready: () => namespaces.isSynced() && [...caches.values()].every((c) => !(c instanceof Promise) && c.isSynced()),
    synced: () => namespaces.synced(),
    async stop() {
      await namespaces.stop();
      for (const c of caches.values()) if (!(c instanceof Promise)) await c.stop();
    },
  };
}
