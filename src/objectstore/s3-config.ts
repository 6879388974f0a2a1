/**
 * BackupStorageLocation `spec.config` for the S3 provider, parsed once into settings the S3 client uses.
 * The keys and their meaning follow Velero's AWS object store plugin, so an existing BSL works unchanged.
 * Pure: no I/O, returns every problem found as a value.
 */
import { X509Certificate } from "node:crypto";

export type ChecksumAlgorithm = "CRC32" | "CRC32C" | "SHA1" | "SHA256" | "CRC64NVME";
const checksumAlgorithms: readonly ChecksumAlgorithm[] = ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"];

export interface S3Settings {
  /** undefined: discover the bucket's region (AWS) or use us-east-1 (a custom s3Url). */
  region: string | undefined;
  /** A custom endpoint (MinIO, Ceph, Versity, ...); undefined means AWS. */
  endpoint: URL | undefined;
  forcePathStyle: boolean;
  insecureSkipTLSVerify: boolean;
  /** undefined: no checksums unless the operation requires one (config `checksumAlgorithm: ""`). */
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  profile: string;
  credentialsFile: string | undefined;
  /** PEM text of extra certificate authorities to trust besides the system ones. */
  caCertPem: string | undefined;
  serverSideEncryption: string | undefined;
  kmsKeyId: string | undefined;
  /** URL-encoded tag set added to every object written ("key1=value1&key2=value2"). */
  tagging: string | undefined;
}

/** Keys Velero's AWS plugin accepts. Ones Skiff has no use for (publicUrl, signatureVersion, ...) are accepted and ignored. */
const knownKeys = new Set([
  "region",
  "s3Url",
  "publicUrl",
  "s3ForcePathStyle",
  "insecureSkipTLSVerify",
  "checksumAlgorithm",
  "profile",
  "credentialsFile",
  "caCert",
  "serverSideEncryption",
  "kmsKeyId",
  "customerKeyEncryptionFile",
  "signatureVersion",
  "enableSharedConfig",
  "tagging",
  "bucket",
  "prefix",
]);

/** The same spellings Go's strconv.ParseBool accepts, which is what Velero users have been writing. */
function parseBool(value: string): boolean | undefined {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  return undefined;
}

/**
 * Accepts PEM text, or base64 of PEM text as in a BSL's `objectStorage.caCert`. Every certificate must parse.
 * Returns the PEM text or an error message.
 */
export function decodeCaCert(value: string, source: string): { ok: true; pem: string } | { ok: false; error: string } {
  const trimmed = value.trim();
  let pem = trimmed;
  if (!trimmed.startsWith("-----BEGIN")) {
    if (!/^[A-Za-z0-9+/=\s]+$/.test(trimmed)) {
      return { ok: false, error: `${source}: caCert is neither PEM nor base64-encoded PEM` };
    }
    pem = Buffer.from(trimmed, "base64").toString("utf8").trim();
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return { ok: false, error: `${source}: caCert holds no PEM certificate` };
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return {
        ok: false,
        error: `${source}: caCert certificate #${index + 1} does not parse: ${(err as Error).message}`,
      };
    }
  }
  return { ok: true, pem: `${blocks.join("\n")}\n` };
}

/**
 * Validates a BSL config map. `source` names where it came from (e.g. "BackupStorageLocation velero/default")
 * and starts every error. caCert may come from the config or, as in a BSL, from objectStorage.caCert.
 */
export function parseS3Config(
  config: Record<string, string>,
  source: string,
  caCert?: string,
): { ok: true; settings: S3Settings } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  for (const key of Object.keys(config)) {
    if (!knownKeys.has(key)) errors.push(`${source}: unknown config key '${key}'`);
  }
  const bool = (key: string): boolean => {
    const raw = config[key];
    if (raw === undefined || raw === "") return false;
    const value = parseBool(raw);
    if (value === undefined) errors.push(`${source}: config ${key} must be true or false, not '${raw}'`);
    return value ?? false;
  };

  let endpoint: URL | undefined;
  const s3Url = config.s3Url?.trim();
  if (s3Url) {
    try {
      endpoint = new URL(s3Url);
      if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") {
        errors.push(`${source}: config s3Url must be an http(s) URL, not '${s3Url}'`);
      }
    } catch {
      errors.push(`${source}: config s3Url '${s3Url}' is not a URL`);
    }
  }

  let checksumAlgorithm: ChecksumAlgorithm | undefined = "CRC32";
  const rawChecksum = config.checksumAlgorithm;
  if (rawChecksum !== undefined) {
    const upper = rawChecksum.trim().toUpperCase();
    if (upper === "") checksumAlgorithm = undefined;
    else if ((checksumAlgorithms as readonly string[]).includes(upper)) checksumAlgorithm = upper as ChecksumAlgorithm;
    else {
      errors.push(
        `${source}: config checksumAlgorithm '${rawChecksum}' is not one of "", ${checksumAlgorithms.join(", ")}`,
      );
    }
  }

  let caCertPem: string | undefined;
  const rawCa = caCert ?? config.caCert;
  if (rawCa?.trim()) {
    const decoded = decodeCaCert(rawCa, source);
    if (decoded.ok) caCertPem = decoded.pem;
    else errors.push(decoded.error);
  }

  const signatureVersion = config.signatureVersion;
  if (signatureVersion && signatureVersion !== "4") {
    errors.push(`${source}: config signatureVersion '${signatureVersion}' is not supported (only "4")`);
  }
  if (config.customerKeyEncryptionFile) {
    errors.push(`${source}: config customerKeyEncryptionFile (SSE-C) is not supported`);
  }
  if (config.kmsKeyId && config.serverSideEncryption && config.serverSideEncryption !== "aws:kms") {
    errors.push(`${source}: config kmsKeyId requires serverSideEncryption aws:kms (or unset)`);
  }

  const settings: S3Settings = {
    region: config.region?.trim() || undefined,
    endpoint,
    forcePathStyle: bool("s3ForcePathStyle"),
    insecureSkipTLSVerify: bool("insecureSkipTLSVerify"),
    checksumAlgorithm,
    profile: config.profile?.trim() || "default",
    credentialsFile: config.credentialsFile?.trim() || undefined,
    caCertPem,
    serverSideEncryption: config.kmsKeyId ? "aws:kms" : config.serverSideEncryption?.trim() || undefined,
    kmsKeyId: config.kmsKeyId?.trim() || undefined,
    tagging: config.tagging?.trim() || undefined,
  };
  return errors.length ? { ok: false, errors } : { ok: true, settings };
}

/**
 * Rejects what no S3 server accepts as a bucket name. Deliberately looser than today's AWS rules: legacy
 * buckets in us-east-1 and other servers allow upper case and underscores.
 */
export function checkBucketName(bucket: string, source: string): string | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    return `${source}: bucket name '${bucket}' is not a valid S3 bucket name`;
  }
  return undefined;
}
