/**
 * A real kube-apiserver in front of a test etcd: RBAC authorization, the built-in admission plugins (Pod Security
 * Admission among them), client-certificate authentication against a generated CA, and a generated
 * service-account signing key.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureBinary } from "./binaries.ts";
import {
  type CertificateAuthority,
  createCA,
  type IssuedCertificate,
  issueCertificate,
  newRsaKeyPem,
} from "./certs.ts";
import { httpsGet } from "./https.ts";
import { freePort, retryOnPortClash } from "./ports.ts";
import { type ServerProcess, startServer, waitUntilReady } from "./process.ts";

export interface ControlPlanePki {
  /** Signs the apiserver's serving certificate; what clients trust. */
  servingCA: CertificateAuthority;
  /** Signs client certificates the apiserver accepts (--client-ca-file). */
  clientCA: CertificateAuthority;
  /** A client certificate in group system:masters. */
  admin: IssuedCertificate;
  serviceAccountKeyFile: string;
  servingCAFile: string;
}

export async function createControlPlanePki(dir: string): Promise<ControlPlanePki> {
  const servingCA = createCA("skiff-test-apiserver-ca");
  const clientCA = createCA("skiff-test-client-ca");
  const admin = issueCertificate(clientCA, {
    commonName: "skiff-test-admin",
    organizations: ["system:masters"],
    usage: "client",
  });
  const serviceAccountKeyFile = join(dir, "service-account.key");
  await writeFile(serviceAccountKeyFile, newRsaKeyPem(), { mode: 0o600 });
  const servingCAFile = join(dir, "apiserver-ca.crt");
  await writeFile(servingCAFile, servingCA.certPem);
  return { servingCA, clientCA, admin, serviceAccountKeyFile, servingCAFile };
}

export interface ApiServer {
  url: string;
  process: ServerProcess;
  stop(): Promise<void>;
}

/** The apiserver flags (pure), following what envtest passes plus the project's security settings. */
export function apiServerArgs(options: {
  port: number;
  etcdUrl: string;
  dir: string;
  files: { tlsCert: string; tlsKey: string; clientCA: string; serviceAccountKey: string };
}): string[] {
  const { port, etcdUrl, dir, files } = options;
  return [
    `--etcd-servers=${etcdUrl}`,
    `--cert-dir=${join(dir, "apiserver-certs")}`,
    `--tls-cert-file=${files.tlsCert}`,
    `--tls-private-key-file=${files.tlsKey}`,
    `--secure-port=${port}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true",
    "--authorization-mode=RBAC",
    `--client-ca-file=${files.clientCA}`,
    `--service-account-issuer=https://127.0.0.1:${port}/`,
    `--service-account-key-file=${files.serviceAccountKey}`,
    `--service-account-signing-key-file=${files.serviceAccountKey}`,
    "--v=0",
  ];
}

export async function startApiServer(
  dir: string,
  etcdUrl: string,
  pki: ControlPlanePki,
  log: (line: string) => void = () => {},
): Promise<ApiServer> {
  const binary = await ensureBinary("kube-apiserver", log);
  const serving = issueCertificate(pki.servingCA, {
    commonName: "kube-apiserver",
    hosts: ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.0.0.1"],
    usage: "server",
  });
  const files = {
    tlsCert: join(dir, "apiserver.crt"),
    tlsKey: join(dir, "apiserver.key"),
    clientCA: join(dir, "client-ca.crt"),
    serviceAccountKey: pki.serviceAccountKeyFile,
  };
  await writeFile(files.tlsCert, serving.certPem);
  await writeFile(files.tlsKey, serving.keyPem, { mode: 0o600 });
  await writeFile(files.clientCA, pki.clientCA.certPem);
  const identity = { caPem: pki.servingCA.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem };

  return retryOnPortClash(async () => {
    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const server = startServer({
      name: "kube-apiserver",
      binary,
      logDir: dir,
      args: apiServerArgs({ port, etcdUrl, dir, files }),
    });
    try {
      await waitUntilReady(server, async () => (await httpsGet(`${url}/readyz`, identity)).status === 200, 90_000, 200);
      // /readyz can pass a moment before the bootstrap controller has created the default namespace.
      await waitUntilReady(
        server,
        async () => (await httpsGet(`${url}/api/v1/namespaces/default`, identity)).status === 200,
        30_000,
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return { url, process: server, stop: () => server.stop() };
  });
}
