/**
 * A watch cache (informer) over one resource type: list once, then watch, keeping every object in memory.
 * Admission reads only from these caches, so a review never waits on the API server. The client's ListWatch
 * reconnects with backoff on its own; errors are logged and counted, and reads serve the last known state.
 */
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi, ListWatch, Watch } from "@kubernetes/client-node";
import type { Logger } from "../log.ts";
import { normalizeKubeError } from "./errors.ts";

export interface ResourceType {
  apiVersion: string;
  kind: string;
  /** Lower-case plural, as in the URL path. */
  plural: string;
  /** Only this namespace (omit for all namespaces or a cluster-scoped kind). */
  namespace?: string;
  labelSelector?: string;
  /** e.g. metadata.name=x: lets RBAC restrict list/watch to one resourceName. */
  fieldSelector?: string;
}

export interface WatchCache<T extends KubernetesObject = KubernetesObject> {
  readonly type: ResourceType;
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Called after every add, update and delete (with the object). */
  onChange(listener: (event: "add" | "update" | "delete", obj: T) => void): void;
  /** Resolves once the first list has been loaded. */
  synced(): Promise<void>;
  isSynced(): boolean;
  stop(): Promise<void>;
}

export function resourcePath(type: ResourceType): string {
  const base = type.apiVersion.includes("/") ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  return type.namespace ? `${base}/namespaces/${type.namespace}/${type.plural}` : `${base}/${type.plural}`;
}

export interface WatchCacheOptions {
  /** Treat "the resource type does not exist" (404, e.g. a CRD not installed yet) as an empty, synced cache. */
  emptyWhenMissing?: boolean;
}

export function startWatchCache<T extends KubernetesObject>(
  kc: KubeConfig,
  type: ResourceType,
  logger: Logger,
  options: WatchCacheOptions = {},
): WatchCache<T> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const what = `${type.plural}.${type.apiVersion}${type.namespace ? ` in ${type.namespace}` : ""}`;
  const list = async () => {
    try {
      const result = await api.list<T>(
        type.apiVersion,
        type.kind,
        type.namespace,
        undefined,
        undefined,
        undefined,
        type.fieldSelector,
        type.labelSelector,
      );
      return result;
    } catch (err) {
      throw normalizeKubeError(err, `listing ${what}`);
    }
  };
  const informer = new ListWatch<T>(
    resourcePath(type),
    new Watch(kc),
    list,
    false,
    type.labelSelector,
    type.fieldSelector,
  );
  const listeners: ((event: "add" | "update" | "delete", obj: T) => void)[] = [];
  let synced = false;
  let resolveSynced: () => void = () => {};
  const syncedPromise = new Promise<void>((resolve) => {
    resolveSynced = resolve;
  });
  const emit = (event: "add" | "update" | "delete") => (obj: T) => {
    for (const l of listeners) {
      try {
        l(event, obj);
      } catch (err) {
        logger.error({ err, resource: what }, "watch listener failed");
      }
    }
  };
  informer.on("add", emit("add"));
  informer.on("update", emit("update"));
  informer.on("delete", emit("delete"));
  const markSynced = () => {
    if (synced) return;
    synced = true;
    resolveSynced();
  };
  // The client's ListWatch stops for good on any error other than "expired" or a client timeout: restart it
  // with backoff (from the last resourceVersion, or with a fresh list after a 410).
  let stopped = false;
  let attempt = 0;
  let failedThisRun = false;
  let restartTimer: NodeJS.Timeout | undefined;
  informer.on("error", (err) => {
    failedThisRun = true;
    if (stopped) return;
    const normal = normalizeKubeError(err, `watching ${what}`);
    if (options.emptyWhenMissing && normal.code === 404) markSynced();
    const delay = Math.min(30_000, 500 * 2 ** attempt++);
    logger.warn({ resource: what, err: normal.message, retryInMs: delay }, "watch failed; retrying");
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => void start(), delay);
    restartTimer.unref();
  });
  const start = async (): Promise<void> => {
    if (stopped) return;
    failedThisRun = false;
    try {
      await informer.start();
    } catch (err) {
      failedThisRun = true;
      logger.warn({ resource: what, err: (err as Error).message }, "starting the watch failed; retrying");
      restartTimer = setTimeout(() => void start(), Math.min(30_000, 500 * 2 ** attempt++));
      restartTimer.unref();
    }
    if (!failedThisRun) {
      attempt = 0;
      markSynced();
    }
  };
  void start();
  return {
    type,
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    onChange: (listener) => {
      listeners.push(listener);
    },
    synced: () => syncedPromise,
    isSynced: () => synced,
    stop: async () => {
      stopped = true;
      clearTimeout(restartTimer);
      await informer.stop();
    },
  };
}
