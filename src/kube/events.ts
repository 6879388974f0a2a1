/**
 * Events and status on objects, where users look. Writing them is best effort: a failure is logged by the
 * caller and never blocks what triggered it.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { normalizeKubeError } from "./errors.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface EventRecorder {
  record(object: ObjectRef, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

export function kubeEventRecorder(kc: KubeConfig, component: string): EventRecorder {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async record(object, type, reason, message) {
      const namespace = object.namespace ?? "default";
      const now = new Date();
      try {
        await core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${object.name}.`, namespace },
            involvedObject: { ...object, ...(object.namespace ? {} : { namespace: "" }) },
            type,
            reason,
            // The apiserver limits an Event message to 1 KiB.
            message: message.length > 1024 ? `${message.slice(0, 1023)}…` : message,
            source: { component },
            reportingComponent: component,
            reportingInstance: process.env.HOSTNAME ?? component,
            action: "Load",
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        throw normalizeKubeError(err, `recording event ${reason} on ${object.kind} ${object.name}`);
      }
    },
  };
}

/** Merge-patches the status subresource of a custom resource. */
export async function patchCustomStatus(
  kc: KubeConfig,
  object: ObjectRef & { plural: string },
  status: Record<string, unknown>,
): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const [group = "", version = ""] = object.apiVersion.split("/");
  const options = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  try {
    if (object.namespace) {
      await api.patchNamespacedCustomObjectStatus(
        { group, version, plural: object.plural, namespace: object.namespace, name: object.name, body: { status } },
        options,
      );
    } else {
      await api.patchClusterCustomObjectStatus(
        { group, version, plural: object.plural, name: object.name, body: { status } },
        options,
      );
    }
  } catch (err) {
    throw normalizeKubeError(err, `updating the status of ${object.kind} ${object.name}`);
  }
}
