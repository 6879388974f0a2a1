/**
 * Builds the S3 client from parsed settings: kept-alive connections (throughput comes from several PUTs in
 * flight, not from multipart uploads), the BSL's certificate authority, and checksum behaviour.
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { rootCertificates } from "node:tls";
import { HeadBucketCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { AwsCredentials } from "./aws-credentials.ts";
import type { S3Settings } from "./s3-config.ts";
import { responseHeader, s3Error } from "./s3-errors.ts";

export interface ClientOptions {
  settings: S3Settings;
  region: string;
  /** Static credentials; undefined lets the SDK's default chain look (environment, web identity, instance role). */
  credentials: AwsCredentials | undefined;
  /** Concurrent connections per store; the repository keeps a few pack uploads in flight. */
  maxSockets: number;
}

export function endpointText(settings: S3Settings, region: string): string {
  return settings.endpoint ? settings.endpoint.origin : `https://s3.${region}.amazonaws.com`;
}

export function buildS3Client(options: ClientOptions): S3Client {
  const { settings, region, credentials, maxSockets } = options;
  const agentOptions = { keepAlive: true, keepAliveMsecs: 15_000, maxSockets, maxFreeSockets: maxSockets };
  const httpsAgent = new HttpsAgent({
    ...agentOptions,
    // Velero appends the BSL's caCert to the system pool rather than replacing it; so does this.
    ...(settings.caCertPem ? { ca: [...rootCertificates, settings.caCertPem] } : {}),
    rejectUnauthorized: !settings.insecureSkipTLSVerify,
  });
  const checksums = settings.checksumAlgorithm ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
  const config: S3ClientConfig = {
    region,
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: 4,
    requestHandler: {
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent,
      connectionTimeout: 10_000,
    },
  };
  if (settings.endpoint) config.endpoint = settings.endpoint.toString();
  if (credentials) config.credentials = credentials;
  else if (settings.profile !== "default") config.profile = settings.profile;
  return new S3Client(config);
}

/**
 * Velero leaves `region` optional for AWS: the bucket's region is learned from a HeadBucket answer
 * (its x-amz-bucket-region header), which S3 sends even when the request went to the wrong region.
 */
export async function discoverBucketRegion(bucket: string, options: Omit<ClientOptions, "region">): Promise<string> {
  const client = buildS3Client({ ...options, region: "us-east-1" });
  try {
    const answer = await client.send(new HeadBucketCommand({ Bucket: bucket }));
    if (answer.BucketRegion) return answer.BucketRegion;
    return "us-east-1";
  } catch (err) {
    const region = responseHeader(err, "x-amz-bucket-region");
    if (region) return region;
    throw s3Error(err, {
      operation: "find the region of",
      bucket,
      endpoint: endpointText(options.settings, "us-east-1"),
      bucketLevel: true,
    });
  } finally {
    client.destroy();
  }
}
