/**
 * The test environment: a real control plane and a real S3 server.
 *
 * Integration tests call useCluster() / useS3(). Under `npm test` (SKIFF_TEST_ENV names the state file) these
 * connect to the servers the test command already started, at no start cost. A test file run on its own starts
 * private servers instead, which are stopped (and their temp dirs removed) when the process ends.
 *
 *   const cluster = await useCluster();
 *   await cluster.installCRDs("manifests/crds");                  // waits until discovery serves them
 *   const ns = await cluster.newNamespace("backup", { "pod-security.kubernetes.io/enforce": "baseline" });
 *   runCodeUnderTest({ kubeconfig: cluster.kubeconfigPath });    // the product reads a kubeconfig file
 *   const s3 = await useS3();                                     // endpoint, credentialsFile, createBucket()
 *   after(() => cluster.stop());                                  // no-op for the shared servers
 *
 * The cluster is shared by concurrently running test files: work in your own namespace, give cluster-scoped
 * objects (webhook configurations, CRD groups of your own) unique names, and scope webhooks with a
 * namespaceSelector so they intercept only your namespace.
 */
import { type Cluster, clusterFor } from "./cluster.ts";
import { startControlPlane } from "./control-plane.ts";
import { type S3Server, s3ServerFor, startS3Server } from "./s3.ts";
import { readState, stateFileVariable } from "./state.ts";

export type { ControlPlanePki } from "./apiserver.ts";
export { createCA, generateServingCert, issueCertificate, type ServingCertificate } from "./certs.ts";
export type { Cluster, ClusterConnection, WebhookRegistration } from "./cluster.ts";
export { uniqueName } from "./cluster.ts";
export { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "./control-plane.ts";
export { type CrdSource, installCRDs, loadCrds } from "./crds.ts";
export { loadKubeConfig, renderKubeconfig } from "./kubeconfig.ts";
export { freePort } from "./ports.ts";
export { type S3Endpoint, type S3Server, s3Client, startS3Server } from "./s3.ts";

let cluster: Promise<Cluster> | undefined;
let s3: Promise<S3Server> | undefined;

const shared = async () => {
  const path = process.env[stateFileVariable];
  return path ? readState(path) : undefined;
};

/** The cluster for this test process (shared under `npm test`, else private; always with kube-controller-manager). */
export function useCluster(): Promise<Cluster> {
  cluster ??= (async () => {
    const state = await shared();
    if (state?.cluster) return clusterFor(state.cluster, async () => {});
    return startControlPlane({ controllerManager: true });
  })();
  return cluster;
}

/** The S3 server for this test process (shared under `npm test`, else private). */
export function useS3(): Promise<S3Server> {
  s3 ??= (async () => {
    const state = await shared();
    if (state?.s3) return s3ServerFor(state.s3, async () => {});
    return startS3Server();
  })();
  return s3;
}
