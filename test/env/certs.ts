/**
 * Test PKI: a CA, client and serving certificates. Keys come from node:crypto (native, fast); certificates are
 * assembled and signed with node-forge.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

/** A new RSA private key in PEM (PKCS#1), the format both forge and the Kubernetes binaries read. */
export function newRsaKeyPem(bits = 2048): string {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: bits,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return privateKey;
}

function newKey(): { keyPem: string; key: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const keyPem = newRsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { keyPem, key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function serialNumber(): string {
  // Positive (high bit clear) 128-bit serial, as RFC 5280 requires.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function validity(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  // Backdated an hour so a slightly skewed clock does not make a fresh certificate "not yet valid".
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + days * 24 * 60 * 60 * 1000);
}

export function createCA(commonName: string, days = 30): CertificateAuthority {
  const { keyPem, key, publicKey } = newKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, days);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem, cert, key };
}

export interface CertificateRequest {
  commonName: string;
  /** Subject O= values; for Kubernetes client certificates these are the user's groups. */
  organizations?: string[];
  /** DNS names and IP addresses for the subjectAltName of a serving certificate. */
  hosts?: string[];
  usage: "client" | "server";
  days?: number;
}

export function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): IssuedCertificate {
  const { keyPem, publicKey } = newKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, request.days ?? 30);
  cert.setSubject([
    { name: "commonName", value: request.commonName },
    ...(request.organizations ?? []).map((value) => ({ name: "organizationName", value })),
  ]);
  cert.setIssuer(ca.cert.subject.attributes);
  const extensions: object[] = [
    { name: "basicConstraints", cA: false, critical: true },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    request.usage === "server" ? { name: "extKeyUsage", serverAuth: true } : { name: "extKeyUsage", clientAuth: true },
    { name: "subjectKeyIdentifier" },
    {
      name: "authorityKeyIdentifier",
      keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes(),
    },
  ];
  const hosts = request.hosts ?? [];
  if (hosts.length > 0) {
    extensions.push({
      name: "subjectAltName",
      altNames: hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host })),
    });
  }
  cert.setExtensions(extensions);
  cert.sign(ca.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface ServingCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A fresh CA and a serving certificate it signed, for a webhook server the apiserver calls over TLS. Pass caPem
 * (base64) as the webhook's clientConfig.caBundle.
 */
export function generateServingCert(options: { hosts?: string[] } = {}): ServingCertificate {
  const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
  const ca = createCA("skiff-test-webhook-ca");
  const serving = issueCertificate(ca, { commonName: hosts[0] ?? "127.0.0.1", hosts, usage: "server" });
  return { caPem: ca.certPem, certPem: serving.certPem, keyPem: serving.keyPem };
}
