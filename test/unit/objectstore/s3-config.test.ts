import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { checkBucketName, decodeCaCert, parseS3Config } from "../../../src/objectstore/s3-config.ts";

const source = "BackupStorageLocation velero/default";

function settingsOf(config: Record<string, string>, caCert?: string) {
  const parsed = parseS3Config(config, source, caCert);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("\n"));
  return parsed.settings;
}

function errorsOf(config: Record<string, string>, caCert?: string): string[] {
  const parsed = parseS3Config(config, source, caCert);
  assert.equal(parsed.ok, false, "expected the config to be rejected");
  return parsed.ok ? [] : parsed.errors;
}

test("defaults match Velero's AWS plugin", () => {
  const s = settingsOf({});
  assert.equal(s.region, undefined);
  assert.equal(s.endpoint, undefined);
  assert.equal(s.forcePathStyle, false);
  assert.equal(s.insecureSkipTLSVerify, false);
  assert.equal(s.checksumAlgorithm, "CRC32");
  assert.equal(s.profile, "default");
  assert.equal(s.caCertPem, undefined);
});

test("reads a MinIO-style BSL config", () => {
  const s = settingsOf({
    region: "minio",
    s3Url: "https://minio.velero.svc:9000",
    s3ForcePathStyle: "true",
    insecureSkipTLSVerify: "True",
    profile: "backup",
    publicUrl: "https://minio.example.com",
  });
  assert.equal(s.region, "minio");
  assert.equal(s.endpoint?.origin, "https://minio.velero.svc:9000");
  assert.equal(s.forcePathStyle, true);
  assert.equal(s.insecureSkipTLSVerify, true);
  assert.equal(s.profile, "backup");
});

test("checksumAlgorithm: empty turns checksums off, names are case-insensitive", () => {
  assert.equal(settingsOf({ checksumAlgorithm: "" }).checksumAlgorithm, undefined);
  assert.equal(settingsOf({ checksumAlgorithm: "sha256" }).checksumAlgorithm, "SHA256");
  assert.equal(settingsOf({ checksumAlgorithm: "CRC32C" }).checksumAlgorithm, "CRC32C");
  assert.deepEqual(errorsOf({ checksumAlgorithm: "MD5" }), [
    `${source}: config checksumAlgorithm 'MD5' is not one of "", CRC32, CRC32C, SHA1, SHA256, CRC64NVME`,
  ]);
});

test("every problem is reported at once, each naming the location and key", () => {
  const errors = errorsOf({
    s3Url: "not a url",
    s3ForcePathStyle: "yes",
    insecureSkipTLSVerify: "maybe",
    regoin: "us-east-1",
    signatureVersion: "2",
  });
  assert.deepEqual(errors.sort(), [
    `${source}: config insecureSkipTLSVerify must be true or false, not 'maybe'`,
    `${source}: config s3ForcePathStyle must be true or false, not 'yes'`,
    `${source}: config s3Url 'not a url' is not a URL`,
    `${source}: config signatureVersion '2' is not supported (only "4")`,
    `${source}: unknown config key 'regoin'`,
  ]);
});

test("s3Url must be http or https", () => {
  assert.deepEqual(errorsOf({ s3Url: "ftp://host/" }), [
    `${source}: config s3Url must be an http(s) URL, not 'ftp://host/'`,
  ]);
});

test("kmsKeyId implies aws:kms server-side encryption", () => {
  const s = settingsOf({ kmsKeyId: "alias/backup" });
  assert.equal(s.serverSideEncryption, "aws:kms");
  assert.equal(s.kmsKeyId, "alias/backup");
  assert.match(errorsOf({ kmsKeyId: "k", serverSideEncryption: "AES256" })[0] ?? "", /kmsKeyId requires/);
});

test("caCert: base64 PEM (as in a BSL) and plain PEM are both accepted", () => {
  const certPem = readFileSync(new URL("../../fixtures/objectstore/s3-test-ca.pem", import.meta.url), "utf8");
  const fromBase64 = settingsOf({}, Buffer.from(certPem).toString("base64"));
  assert.match(fromBase64.caCertPem ?? "", /^-----BEGIN CERTIFICATE-----/);
  assert.equal(settingsOf({ caCert: certPem }).caCertPem, fromBase64.caCertPem);
});

test("caCert that is not a certificate is rejected with the reason", () => {
  assert.deepEqual(decodeCaCert("%%%", source), {
    ok: false,
    error: `${source}: caCert is neither PEM nor base64-encoded PEM`,
  });
  assert.deepEqual(decodeCaCert(Buffer.from("hello").toString("base64"), source), {
    ok: false,
    error: `${source}: caCert holds no PEM certificate`,
  });
  const garbled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const result = decodeCaCert(garbled, source);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.error, /caCert certificate #1 does not parse/);
  assert.equal(errorsOf({}, Buffer.from(garbled).toString("base64")).length, 1);
});

test("bucket names", () => {
  assert.equal(checkBucketName("velero-backups", source), undefined);
  assert.equal(checkBucketName("Legacy_Bucket.1", source), undefined);
  assert.match(checkBucketName("a/b", source) ?? "", /'a\/b' is not a valid S3 bucket name/);
  assert.match(checkBucketName("", source) ?? "", /not a valid/);
});
