/**
 * Bring-your-own certificates (cert-manager, a mounted Secret): read tls.crt/tls.key from files and reload
 * them when they change. Kubernetes updates a mounted Secret by swapping a symlink, so the containing folder
 * is watched (not the files), with a debounce and a slow poll as a safety net for filesystems without events.
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../log.ts";
import type { CertificateHolder } from "./certificate-holder.ts";
import { certificateInfo } from "./certs.ts";
import { watchFolders } from "./folder-watch.ts";

export interface FileCertificatesOptions {
  certFile: string;
  keyFile: string;
  holder: CertificateHolder;
  logger: Logger;
  debounceMs?: number;
  pollMs?: number;
  onLoaded?: (notAfter: Date) => void;
}

export interface FileCertificates {
  /** Reads the files now; resolves true when a valid pair was installed. */
  reload(): Promise<boolean>;
  stop(): void;
}

export function watchCertificateFiles(options: FileCertificatesOptions): FileCertificates {
  const { certFile, keyFile, holder, logger } = options;

  const reload = async (): Promise<boolean> => {
    let certPem: string;
    let keyPem: string;
    try {
      [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    } catch (err) {
      logger.warn({ certFile, keyFile, err: (err as Error).message }, "cannot read the TLS certificate files yet");
      return false;
    }
    if (holder.current()?.certPem === certPem && holder.current()?.keyPem === keyPem) return true;
    let notAfter: Date;
    try {
      notAfter = certificateInfo(certPem).notAfter;
    } catch (err) {
      logger.error({ certFile, err: (err as Error).message }, "the TLS certificate file does not hold a certificate");
      return false;
    }
    // During a rotation the two files are not swapped atomically: a mismatch is retried on the next event.
    if (!holder.set({ certPem, keyPem })) {
      logger.warn({ certFile, keyFile }, "TLS key does not match the certificate (yet); keeping the current pair");
      return false;
    }
    logger.info({ certFile, notAfter: notAfter.toISOString() }, "TLS certificate loaded from files");
    options.onLoaded?.(notAfter);
    return true;
  };

  const stop = watchFolders({
    folders: [dirname(certFile), dirname(keyFile)],
    onChange: () => void reload(),
    logger,
    what: "certificate",
    debounceMs: options.debounceMs ?? 200,
    pollMs: options.pollMs ?? 60_000,
  });

  return { reload, stop };
}
