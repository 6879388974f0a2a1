/**
 * The HTTPS listener around the admission app: TLS from a CertificateHolder (hot-swapped with
 * setSecureContext), keep-alive tuned for the apiserver, graceful shutdown that finishes in-flight reviews.
 */
import { once } from "node:events";
import type { RequestListener } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "../log.ts";
import type { CertificateHolder } from "./certificate-holder.ts";

export interface AdmissionServerOptions {
  /** The request listener: an express app, or createAdmissionListener's fast dispatcher. */
  app: RequestListener;
  certificates: CertificateHolder;
  host: string;
  port: number;
  logger: Logger;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes what is left. */
  close(graceMs?: number): Promise<void>;
}

export async function startAdmissionServer(options: AdmissionServerOptions): Promise<RunningServer> {
  const { app, certificates, logger } = options;
  const first = await certificates.ready();
  const server = createServer(
    {
      cert: first.certPem,
      key: first.keyPem,
      minVersion: "TLSv1.2",
      // The apiserver keeps connections idle for up to 90 s; closing them first from this side races with
      // a request being sent and turns into a failed admission call. Let the client close first.
      keepAliveTimeout: 120_000,
      headersTimeout: 30_000,
      requestTimeout: 60_000,
    },
    app,
  );
  const unsubscribe = certificates.subscribe((pair) => {
    try {
      server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: "TLSv1.2" });
      logger.info("serving certificate reloaded");
    } catch (err) {
      logger.error({ err }, "could not install the new serving certificate; keeping the previous one");
    }
  });
  server.on("tlsClientError", (err) => logger.debug({ err: err.message }, "TLS handshake failed"));
  server.on("clientError", (err, socket) => {
    logger.debug({ err: err.message }, "malformed HTTP request");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
  });
  server.listen(options.port, options.host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = options.host.includes(":") ? `[${options.host}]` : options.host;
  logger.info({ host: options.host, port }, "admission webhook listening");

  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000) => {
    closing ??= (async () => {
      unsubscribe();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await done;
      clearTimeout(timer);
    })();
    return closing;
  };
  return { server, port, url: `https://${hostForUrl}:${port}`, close };
}
