/**
 * `skiff webhook` configuration from flags, then environment, then defaults. Parsing is pure and returns
 * either the options or a message naming the bad flag.
 */
import { parseArgs } from "node:util";
import { DEFAULT_BODY_LIMIT } from "./app.ts";

export type CertMode = "files" | "self-managed";

export interface WebhookOptions {
  port: number;
  bindAddress: string;
  /** Folder of policy files; undefined to load none from files. */
  policyDir?: string;
  clusterPolicies: boolean;
  certMode: CertMode;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  namespace: string;
  serviceName: string;
  certSecret: string;
  /** Extra DNS names / IPs for the self-managed serving certificate. */
  extraHosts: string[];
  mutatingConfigurations: string[];
  validatingConfigurations: string[];
  kubeconfig?: string;
  /** After SIGTERM: keep serving (not ready) this long so endpoints drop the pod first. */
  shutdownDelayMs: number;
  shutdownGraceMs: number;
  bodyLimit: number;
}

export const webhookUsage = `Usage: skiff webhook [options]

Serves the admission webhooks (HTTPS: /mutate, /validate, /healthz, /readyz, /metrics).

Options (environment variable in brackets):
  --port <n>                            listen port (8443) [SKIFF_WEBHOOK_PORT]
  --bind-address <ip>                   listen address (0.0.0.0) [SKIFF_WEBHOOK_BIND_ADDRESS]
  --policy-dir <dir>                    policy files, hot-reloaded (/etc/skiff/policies) [SKIFF_POLICY_DIR]
  --no-cluster-policies                 ignore BackupPolicy/ClusterBackupPolicy resources
  --cert-mode <files|self-managed>      certificates from files or managed in a Secret (self-managed)
  --tls-cert-file <file>                serving certificate (files mode) [SKIFF_TLS_CERT_FILE]
  --tls-key-file <file>                 serving key (files mode) [SKIFF_TLS_KEY_FILE]
  --namespace <ns>                      Skiff's namespace [POD_NAMESPACE] (skiff-system)
  --service-name <name>                 the webhook Service (skiff-webhook)
  --cert-secret <name>                  Secret for self-managed certificates (skiff-webhook-certs)
  --extra-host <host>                   extra SAN for the serving certificate (repeatable)
  --mutating-webhook-configuration <n>  configuration whose caBundle is managed (repeatable)
  --validating-webhook-configuration <n>
  --kubeconfig <file>                   default: in-cluster, then $KUBECONFIG [KUBECONFIG]
  --shutdown-delay <seconds>            keep serving after SIGTERM while endpoints update (5)
`;

function intFlag(value: string | undefined, name: string, min: number, max: number): number | string {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    return `--${name} must be an integer from ${min} to ${max}, got "${value}"`;
  return n;
}

export function parseWebhookOptions(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { options: WebhookOptions } | { error: string } | { help: true } {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (values.help) return { help: true };
  const port = intFlag(values.port ?? env.SKIFF_WEBHOOK_PORT ?? "8443", "port", 0, 65535);
  if (typeof port === "string") return { error: port };
  const delay = intFlag(values["shutdown-delay"] ?? "5", "shutdown-delay", 0, 300);
  if (typeof delay === "string") return { error: delay };
  const certMode =
    values["cert-mode"] ?? (values["tls-cert-file"] || env.SKIFF_TLS_CERT_FILE ? "files" : "self-managed");
  if (certMode !== "files" && certMode !== "self-managed") {
    return { error: `--cert-mode must be "files" or "self-managed", got "${certMode}"` };
  }
  const tlsCertFile = values["tls-cert-file"] ?? env.SKIFF_TLS_CERT_FILE;
  const tlsKeyFile = values["tls-key-file"] ?? env.SKIFF_TLS_KEY_FILE;
  if (certMode === "files" && (!tlsCertFile || !tlsKeyFile)) {
    return { error: "--cert-mode files needs --tls-cert-file and --tls-key-file" };
  }
  const policyDir = values["policy-dir"] ?? env.SKIFF_POLICY_DIR ?? "/etc/skiff/policies";
  const options: WebhookOptions = {
    port,
    bindAddress: values["bind-address"] ?? env.SKIFF_WEBHOOK_BIND_ADDRESS ?? "0.0.0.0",
    policyDir: policyDir === "" ? undefined : policyDir,
    clusterPolicies: !values["no-cluster-policies"],
    certMode,
    tlsCertFile,
    tlsKeyFile,
    namespace: values.namespace ?? env.POD_NAMESPACE ?? "skiff-system",
    serviceName: values["service-name"] ?? "skiff-webhook",
    certSecret: values["cert-secret"] ?? "skiff-webhook-certs",
    extraHosts: values["extra-host"] ?? [],
    mutatingConfigurations: values["mutating-webhook-configuration"] ?? [],
    validatingConfigurations: values["validating-webhook-configuration"] ?? [],
    kubeconfig: values.kubeconfig ?? (env.KUBECONFIG || undefined),
    shutdownDelayMs: delay * 1000,
    shutdownGraceMs: 20_000,
    bodyLimit: DEFAULT_BODY_LIMIT,
  };
  return { options };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      help: { type: "boolean", short: "h" },
      port: { type: "string" },
      "bind-address": { type: "string" },
      "policy-dir": { type: "string" },
      "no-cluster-policies": { type: "boolean" },
      "cert-mode": { type: "string" },
      "tls-cert-file": { type: "string" },
      "tls-key-file": { type: "string" },
      namespace: { type: "string" },
      "service-name": { type: "string" },
      "cert-secret": { type: "string" },
      "extra-host": { type: "string", multiple: true },
      "mutating-webhook-configuration": { type: "string", multiple: true },
      "validating-webhook-configuration": { type: "string", multiple: true },
      kubeconfig: { type: "string" },
      "shutdown-delay": { type: "string" },
    },
  });
}
