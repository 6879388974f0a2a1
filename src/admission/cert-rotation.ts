/**
 * Pure rotation planning for self-managed certificates. Given what the Secret holds and the time, decide
 * what it should hold. The CA rolls over in two steps so the apiserver never meets a serving certificate
 * it cannot verify:
 *   1. a new CA is created and put in the bundle next to the old one; serving continues with the old cert;
 *   2. once the bundle has had time to reach the webhook configurations (propagationDelayMs), the serving
 *      certificate is reissued from the new CA.
 * The old CA stays in the bundle until it expires, so connections verified with either keep working.
 */
import {
  type CertificateInfo,
  certificateInfo,
  createCA,
  createServingCertificate,
  isSignedBy,
  type KeyPair,
  keyMatchesCertificate,
  splitPemBundle,
} from "./certs.ts";

export interface CertState {
  /** The CA that signs new serving certificates. */
  ca: KeyPair;
  /** Every CA the apiserver should trust, newest first (PEM concatenation). */
  caBundle: string;
  serving: KeyPair;
  /** Set while a new CA is in the bundle but serving still uses a certificate of the previous CA. */
  rolloverStartedAt?: Date;
}

export interface RotationConfig {
  commonName: string;
  hosts: string[];
  caValidityMs: number;
  servingValidityMs: number;
  /** Renew when this fraction of a certificate's lifetime has passed (2/3 by default). */
  renewFraction: number;
  propagationDelayMs: number;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export const defaultRotation: Omit<RotationConfig, "commonName" | "hosts"> = {
  caValidityMs: 365 * DAY_MS,
  servingValidityMs: 30 * DAY_MS,
  renewFraction: 2 / 3,
  propagationDelayMs: 2 * 60 * 1000,
};

export interface RotationPlan {
  changed: boolean;
  state: CertState;
  reasons: string[];
}

/** One canonical text for a bundle, so an unchanged bundle compares equal. */
export function joinBundle(pems: readonly string[]): string {
  return pems.map((p) => `${p.trim()}\n`).join("");
}

export function renewalTime(info: CertificateInfo, fraction: number): Date {
  const start = info.notBefore.getTime();
  return new Date(start + (info.notAfter.getTime() - start) * fraction);
}

function sameHosts(info: CertificateInfo, hosts: readonly string[]): boolean {
  const present = new Set([...info.dnsNames, ...info.ipAddresses]);
  return hosts.length === present.size && hosts.every((h) => present.has(h));
}

/** Problems that make a stored state unusable (then everything is regenerated). */
export function validateState(state: CertState): string[] {
  const problems: string[] = [];
  try {
    if (!certificateInfo(state.ca.certPem).isCA) problems.push("ca.crt is not a CA certificate");
    if (!keyMatchesCertificate(state.ca)) problems.push("ca.key does not match ca.crt");
    if (!keyMatchesCertificate(state.serving)) problems.push("tls.key does not match tls.crt");
    if (splitPemBundle(state.caBundle).length === 0) problems.push("ca-bundle.crt holds no certificate");
  } catch (err) {
    problems.push(`unreadable certificate: ${(err as Error).message}`);
  }
  return problems;
}

export function planRotation(current: CertState | undefined, now: Date, config: RotationConfig): RotationPlan {
  const issue = (ca: KeyPair) =>
    createServingCertificate({
      ca,
      commonName: config.hosts[0] ?? config.commonName,
      hosts: config.hosts,
      now,
      validityMs: config.servingValidityMs,
    });
  const freshCA = () =>
    createCA({ commonName: `${config.commonName} CA ${now.toISOString()}`, now, validityMs: config.caValidityMs });

  const problems = current ? validateState(current) : ["no certificates stored yet"];
  if (!current || problems.length > 0) {
    const ca = freshCA();
    return { changed: true, state: { ca, caBundle: joinBundle([ca.certPem]), serving: issue(ca) }, reasons: problems };
  }

  const reasons: string[] = [];
  let { ca, serving, rolloverStartedAt } = current;
  const t = now.getTime();

  // Drop CAs that can no longer verify anything; the signing CA always stays.
  let bundle = splitPemBundle(current.caBundle).filter((pem) => {
    const keep = pem.trim() === ca.certPem.trim() || certificateInfo(pem).notAfter.getTime() > t;
    if (!keep) reasons.push(`expired CA ${certificateInfo(pem).subject} removed from the bundle`);
    return keep;
  });
  if (!bundle.some((pem) => pem.trim() === ca.certPem.trim())) {
    bundle = [ca.certPem, ...bundle];
    reasons.push("signing CA added to the bundle");
  }

  const caInfo = certificateInfo(ca.certPem);
  if (renewalTime(caInfo, config.renewFraction).getTime() <= t) {
    ca = freshCA();
    bundle = [ca.certPem, ...bundle];
    rolloverStartedAt = now;
    reasons.push(`CA renewed (old one expires ${caInfo.notAfter.toISOString()}); serving certificate follows later`);
  }

  const servingInfo = certificateInfo(serving.certPem);
  const servingExpired = servingInfo.notAfter.getTime() <= t;
  const fromSigningCA = isSignedBy(serving.certPem, ca.certPem);
  if (!fromSigningCA) {
    const propagated = rolloverStartedAt !== undefined && t >= rolloverStartedAt.getTime() + config.propagationDelayMs;
    // Without a rollover record there is nothing to wait for (e.g. the CA was replaced by hand).
    if (propagated || rolloverStartedAt === undefined || servingExpired) {
      serving = issue(ca);
      rolloverStartedAt = undefined;
      reasons.push("serving certificate reissued from the new CA");
    }
  } else if (servingExpired || renewalTime(servingInfo, config.renewFraction).getTime() <= t) {
    serving = issue(ca);
    reasons.push(`serving certificate renewed (was valid until ${servingInfo.notAfter.toISOString()})`);
  } else if (!sameHosts(servingInfo, config.hosts)) {
    serving = issue(ca);
    reasons.push(`serving certificate reissued for hosts ${config.hosts.join(", ")}`);
  }
  if (fromSigningCA && rolloverStartedAt && serving === current.serving) rolloverStartedAt = undefined;

  const caBundle = joinBundle(bundle);
  const changed =
    ca !== current.ca ||
    serving !== current.serving ||
    caBundle !== current.caBundle ||
    rolloverStartedAt?.getTime() !== current.rolloverStartedAt?.getTime();
  return { changed, state: { ca, caBundle, serving, ...(rolloverStartedAt ? { rolloverStartedAt } : {}) }, reasons };
}

/** When the next planRotation call could change something (for scheduling the next check). */
export function nextRotationCheck(state: CertState, config: RotationConfig): Date {
  const times = [
    renewalTime(certificateInfo(state.ca.certPem), config.renewFraction).getTime(),
    renewalTime(certificateInfo(state.serving.certPem), config.renewFraction).getTime(),
  ];
  if (state.rolloverStartedAt) times.push(state.rolloverStartedAt.getTime() + config.propagationDelayMs);
  return new Date(Math.min(...times));
}
