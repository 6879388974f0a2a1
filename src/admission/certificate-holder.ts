/**
 * The serving certificate currently in use. Sources (files, the self-managed Secret) set it; the HTTPS
 * server subscribes and swaps its secure context, so new connections get the new certificate without a
 * restart while established ones finish on the old.
 */
import { type KeyPair, keyMatchesCertificate } from "./certs.ts";

export class CertificateHolder {
  private pair: KeyPair | undefined;
  private readonly listeners = new Set<(pair: KeyPair) => void>();
  private readonly waiters: ((pair: KeyPair) => void)[] = [];

  current(): KeyPair | undefined {
    return this.pair;
  }

  /** Installs a certificate; returns false (and keeps the old one) when the key does not match it. */
  set(pair: KeyPair): boolean {
    if (this.pair && this.pair.certPem === pair.certPem && this.pair.keyPem === pair.keyPem) return true;
    if (!keyMatchesCertificate(pair)) return false;
    this.pair = pair;
    for (const listener of this.listeners) listener(pair);
    for (const resolve of this.waiters.splice(0)) resolve(pair);
    return true;
  }

  subscribe(listener: (pair: KeyPair) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the first certificate (immediately if one is set). */
  ready(): Promise<KeyPair> {
    if (this.pair) return Promise.resolve(this.pair);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
