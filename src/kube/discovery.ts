/** Resource names from API discovery (kind -> plural, scope), cached per apiVersion by the client. */
import { type KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { normalizeKubeError } from "./errors.ts";

class DiscoveryClient extends KubernetesObjectApi {
  async describe(apiVersion: string, kind: string) {
    return this.resource(apiVersion, kind);
  }
}

export interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

export type Discovery = (apiVersion: string, kind: string) => Promise<ResourceInfo>;

export function kubeDiscovery(kc: KubeConfig): Discovery {
  const client = kc.makeApiClient(DiscoveryClient);
  return async (apiVersion, kind) => {
    let found: Awaited<ReturnType<DiscoveryClient["describe"]>>;
    try {
      found = await client.describe(apiVersion, kind);
    } catch (err) {
      throw normalizeKubeError(err, `discovering ${kind}.${apiVersion}`);
    }
    if (!found) throw new Error(`the API server does not serve kind ${kind} in ${apiVersion}`);
    return { plural: found.name, namespaced: found.namespaced };
  };
}
