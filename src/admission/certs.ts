/**
 * X.509 for the webhook: a self-signed CA and serving certificates it signs. Keys come from node:crypto
 * (fast, native); certificates are built and signed with node-forge. Times are passed in, never read from
 * the system clock, so rotation is testable.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  dnsNames: string[];
  ipAddresses: string[];
  fingerprint: string;
}

// Certificates are backdated a little so a replica whose clock lags the apiserver's still accepts them.
const CLOCK_SKEW_MS = 5 * 60 * 1000;

function newKeyPem(): string {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return privateKey;
}

function serialNumber(): string {
  // Positive 16-byte serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString("hex");
}

/** A fresh key pair and an unsigned certificate for it, valid from `now` (less the allowed clock skew). */
function newCertificate(now: Date): {
  cert: forge.pki.Certificate;
  privateKey: forge.pki.rsa.PrivateKey;
  keyPem: string;
} {
  const keyPem = newKeyPem();
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  return { cert, privateKey, keyPem };
}

export interface CAOptions {
  commonName: string;
  now: Date;
  validityMs: number;
}

export function createCA(options: CAOptions): KeyPair {
  const { cert, privateKey, keyPem } = newCertificate(options.now);
  cert.validity.notAfter = new Date(options.now.getTime() + options.validityMs);
  const subject = [{ name: "commonName", value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface ServingOptions {
  ca: KeyPair;
  commonName: string;
  /** DNS names and IP addresses, mixed; each is put in the SAN under the right type. */
  hosts: string[];
  now: Date;
  validityMs: number;
}

export function createServingCertificate(options: ServingOptions): KeyPair {
  const caCert = forge.pki.certificateFromPem(options.ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(options.ca.keyPem);
  const { cert, keyPem } = newCertificate(options.now);
  // A serving certificate never outlives the CA that vouches for it.
  const wanted = options.now.getTime() + options.validityMs;
  cert.validity.notAfter = new Date(Math.min(wanted, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: "commonName", value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = options.hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
  cert.setExtensions([
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
    { name: "subjectKeyIdentifier" },
    // forge derives subjectKeyIdentifier from the key the same way, so the two identifiers match.
    { name: "authorityKeyIdentifier", keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Splits a PEM bundle into its certificates (order kept). */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}

/** Reads a certificate with node's own X.509 parser (throws for something that is not a certificate). */
export function certificateInfo(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (x.subjectAltName ?? "").split(/,\s*/)) {
    if (entry.startsWith("DNS:")) dnsNames.push(entry.slice(4));
    else if (entry.startsWith("IP Address:")) ipAddresses.push(entry.slice(11));
  }
  return {
    subject: x.subject,
    issuer: x.issuer,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    isCA: x.ca,
    dnsNames,
    ipAddresses,
    fingerprint: x.fingerprint256,
  };
}

/** True when `cert` was signed by `ca` (signature check, not just names). */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}

/** True when the private key belongs to the certificate. */
export function keyMatchesCertificate(pair: KeyPair): boolean {
  try {
    // createPrivateKey accepts PKCS#1 and PKCS#8 PEM.
    return new X509Certificate(pair.certPem).checkPrivateKey(createPrivateKey(pair.keyPem));
  } catch {
    return false;
  }
}

/** The DNS names a webhook Service is reached by. */
export function serviceHosts(service: string, namespace: string, extra: readonly string[] = []): string[] {
  const hosts = [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...extra];
  return [...new Set(hosts)];
}
