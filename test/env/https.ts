/** A minimal HTTPS GET for readiness probes (fetch cannot present a client certificate). */
import { request } from "node:https";

export interface TlsIdentity {
  caPem?: string;
  certPem?: string;
  keyPem?: string;
  /** Only for probing a server this process started itself on loopback, whose certificate it never saw. */
  insecure?: boolean;
}

export function httpsGet(url: string, tls: TlsIdentity, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "GET",
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        rejectUnauthorized: !tls.insecure,
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
