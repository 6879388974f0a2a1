/**
 * Raw calls to the real API server for the admission tests: the typed client hides what these tests check
 * (HTTP status, the Status message of a denial, Warning headers, dryRun).
 */
import { request } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export interface ApiReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary API objects
  body: any;
  warnings: string[];
}

/** Warning headers look like `299 - "text"`; the text is what the webhook returned. */
function parseWarnings(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return values.flatMap((v) =>
    [...v.matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? "").replace(/\\(.)/g, "$1")),
  );
}

export async function apiCall(
  kc: KubeConfig,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
  query: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<ApiReply> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig without a cluster");
  const url = new URL(path, cluster.server);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const options: import("node:https").RequestOptions = {
    method,
    headers: { "content-type": "application/json", ...headers },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, body: parsed, warnings: parseWarnings(res.headers.warning) });
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export const create = (kc: KubeConfig, path: string, body: unknown, dryRun = false) =>
  apiCall(kc, "POST", path, body, dryRun ? { dryRun: "All" } : {});
