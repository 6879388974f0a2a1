/**
 * A real S3 server: Versity's S3 gateway (versitygw) with its POSIX backend on a temp dir. Buckets are
 * directories, objects are files, metadata lives in extended attributes.
 */
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { ensureBinary } from "./binaries.ts";
import { freePort, retryOnPortClash } from "./ports.ts";
import { makeTempDir, removeTempDir, startServer, waitUntilReady } from "./process.ts";

export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** AWS shared-credentials file with a [default] profile, mode 0600. */
  credentialsFile: string;
}

export interface S3Server extends S3Endpoint {
  /** An S3 client for this server (path-style, checksums only where S3 requires them). */
  client(): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Pure: the AWS shared-credentials file text. */
export function renderCredentialsFile(accessKeyId: string, secretAccessKey: string): string {
  return `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secretAccessKey}\n`;
}

export function s3Client(endpoint: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: endpoint.endpoint,
    region: endpoint.region,
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** The S3 server object for an endpoint; stop is supplied by whoever owns the process. */
export function s3ServerFor(endpoint: S3Endpoint, stop: () => Promise<void>): S3Server {
  return {
    ...endpoint,
    client: () => s3Client(endpoint),
    async createBucket(name) {
      const client = s3Client(endpoint);
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop,
  };
}

export async function startS3Server(log: (line: string) => void = () => {}): Promise<S3Server> {
  const binary = await ensureBinary("versitygw", log);
  const dir = await makeTempDir("s3");
  try {
    const root = join(dir, "buckets");
    await mkdir(root, { mode: 0o700 });
    const accessKeyId = `skiff${randomBytes(6).toString("hex")}`;
    const secretAccessKey = randomBytes(24).toString("base64url");
    const credentialsFile = join(dir, "credentials");
    await writeFile(credentialsFile, renderCredentialsFile(accessKeyId, secretAccessKey), { mode: 0o600 });
    const region = "us-east-1";
    return await retryOnPortClash(async () => {
      const port = await freePort();
      const endpoint = `http://127.0.0.1:${port}`;
      const server = startServer({
        name: "versitygw",
        binary,
        logDir: dir,
        // Credentials through the environment, not argv, so they do not show up in `ps`.
        env: { ...process.env, ROOT_ACCESS_KEY_ID: accessKeyId, ROOT_SECRET_ACCESS_KEY: secretAccessKey },
        args: ["--port", `127.0.0.1:${port}`, "--region", region, "--quiet", "posix", root],
      });
      try {
        // Any HTTP answer (an unauthenticated request gets 403) means it is serving.
        await waitUntilReady(
          server,
          async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2000) })).status > 0,
          30_000,
        );
      } catch (err) {
        await server.stop();
        throw err;
      }
      return s3ServerFor({ endpoint, region, accessKeyId, secretAccessKey, credentialsFile }, async () => {
        await server.stop();
        await removeTempDir(dir);
      });
    });
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
}
