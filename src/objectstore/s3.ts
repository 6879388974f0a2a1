/**
 * Opens the S3 backend of the object store: `createS3Store` from a BackupStorageLocation (bucket, prefix,
 * config, credential, caCert) for the controller, `openS3Store` from an `s3://` location for the CLI.
 * The store itself (and why putIfAbsent may fall back to check-then-write) is in s3-store.ts.
 */
import { readFile } from "node:fs/promises";
import { createLogger, type Logger } from "../log.ts";
import { type AwsCredentials, loadCredentialsFile } from "./aws-credentials.ts";
import { buildS3Client, discoverBucketRegion, endpointText } from "./s3-client.ts";
import { checkBucketName, parseS3Config } from "./s3-config.ts";
import { S3ObjectStore } from "./s3-store.ts";

let logger: Logger | undefined;

function defaultWarn(): (message: string) => void {
  return (message) => {
    logger ??= createLogger({ name: "objectstore" });
    logger.warn(message);
  };
}

export { S3StoreError } from "./s3-errors.ts";
export { S3ObjectStore } from "./s3-store.ts";

export interface S3StoreOptions {
  bucket: string;
  /** Folder inside the bucket; every key is stored under `<prefix>/`. */
  prefix?: string;
  /** The BackupStorageLocation's spec.config. */
  config: Record<string, string>;
  /** Static credentials; otherwise credentialsFile (or config.credentialsFile); otherwise the SDK's default chain. */
  credentials?: AwsCredentials;
  credentialsFile?: string;
  /** Overrides config.profile. */
  profile?: string;
  /** The BSL's objectStorage.caCert: base64-encoded PEM (plain PEM is accepted too). */
  caCert?: string;
  /** Names the configuration in errors, e.g. "BackupStorageLocation velero/default". */
  source?: string;
  /** Connections kept per store (default 16). */
  maxSockets?: number;
  /** Check at creation that the bucket exists and the credentials work (default true). */
  verifyBucket?: boolean;
  /** Keys per ListObjectsV2 page (default and S3's maximum: 1000); smaller values exercise paging in tests. */
  listPageSize?: number;
  /** Receives operational warnings (e.g. conditional writes unavailable); default: the process logger. */
  warn?: (message: string) => void;
}

/** For the controller: a store from a BackupStorageLocation's bucket, prefix, config and credential. */
export async function createS3Store(options: S3StoreOptions): Promise<S3ObjectStore> {
  const source = options.source ?? `S3 location s3://${options.bucket}`;
  const problems: string[] = [];
  const badBucket = checkBucketName(options.bucket, source);
  if (badBucket) problems.push(badBucket);
  const parsed = parseS3Config(options.config, source, options.caCert);
  if (!parsed.ok) problems.push(...parsed.errors);
  if (problems.length || !parsed.ok) throw new Error(`invalid S3 configuration: ${problems.join("; ")}`);
  const settings = parsed.settings;
  if (options.profile) settings.profile = options.profile;

  let credentials = options.credentials;
  const credentialsFile = options.credentialsFile ?? settings.credentialsFile;
  if (!credentials && credentialsFile) credentials = await loadCredentialsFile(credentialsFile, settings.profile);

  const maxSockets = options.maxSockets ?? 16;
  const region =
    settings.region ??
    (settings.endpoint
      ? "us-east-1"
      : await discoverBucketRegion(options.bucket, { settings, credentials, maxSockets }));
  const client = buildS3Client({ settings, region, credentials, maxSockets });
  const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
  const store = new S3ObjectStore(client, {
    bucket: options.bucket,
    prefix,
    endpoint: endpointText(settings, region),
    settings,
    warn: options.warn ?? defaultWarn(),
    ...(options.listPageSize ? { listPageSize: options.listPageSize } : {}),
  });
  if (options.verifyBucket !== false) {
    try {
      await store.verify();
    } catch (err) {
      store.close();
      throw err;
    }
  }
  return store;
}

/**
 * For the CLI: `s3://bucket/prefix?region=...&s3Url=...&s3ForcePathStyle=true`. Query parameters carry the BSL
 * config keys; `caCert` is a path to a PEM file here (the BSL carries the certificate itself).
 */
export async function openS3Store(
  url: URL,
  options: { credentialsFile?: string; warn?: (message: string) => void } = {},
): Promise<S3ObjectStore> {
  if (url.protocol !== "s3:") throw new Error(`not an s3:// location: ${url.protocol}`);
  const bucket = decodeURIComponent(url.hostname);
  if (!bucket) throw new Error("the S3 location has no bucket: expected s3://bucket/prefix");
  const config = Object.fromEntries(url.searchParams);
  let caCert: string | undefined;
  if (config.caCert) {
    try {
      caCert = await readFile(config.caCert, "utf8");
    } catch (err) {
      throw new Error(`cannot read the caCert file ${config.caCert}: ${(err as Error).message}`, { cause: err });
    }
    delete config.caCert;
  }
  return createS3Store({
    bucket,
    prefix: decodeURIComponent(url.pathname),
    config,
    source: `location s3://${bucket}${url.pathname}`,
    ...(options.credentialsFile ? { credentialsFile: options.credentialsFile } : {}),
    ...(caCert ? { caCert } : {}),
    ...(options.warn ? { warn: options.warn } : {}),
  });
}
