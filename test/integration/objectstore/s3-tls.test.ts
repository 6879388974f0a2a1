/**
 * caCert and insecureSkipTLSVerify against the real S3 server behind TLS. The test S3 server speaks plain
 * HTTP, so a TLS terminator on 127.0.0.1 (a certificate from a throw-away CA) forwards bytes to it unchanged.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { createServer, type Server } from "node:tls";
import { createS3Store } from "../../../src/objectstore/s3.ts";
import type { CertificateAuthority } from "../../env/certs.ts";
import { createCA, issueCertificate, type S3Server, useS3 } from "../../env/index.ts";

let s3: S3Server;
let ca: CertificateAuthority;
let proxy: Server;
let tlsUrl: string;
const sockets = new Set<Socket>();
const bucket = `skiff-tls-${randomBytes(4).toString("hex")}`;

before(async () => {
  s3 = await useS3();
  await s3.createBucket(bucket);
  ca = createCA("skiff-test-s3-tls-ca", 1);
  const serving = issueCertificate(ca, { commonName: "127.0.0.1", hosts: ["127.0.0.1"], usage: "server", days: 1 });
  const upstream = new URL(s3.endpoint);
  proxy = createServer({ key: serving.keyPem, cert: serving.certPem }, (client) => {
    const server = connect(Number(upstream.port), upstream.hostname);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        server.destroy();
      });
    }
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const address = proxy.address();
  assert.ok(address && typeof address === "object");
  tlsUrl = `https://127.0.0.1:${address.port}`;
});

after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => proxy?.close(resolve));
});

const config = (extra: Record<string, string> = {}) => ({
  region: s3.region,
  s3Url: tlsUrl,
  s3ForcePathStyle: "true",
  ...extra,
});

test("trusts the server through the BSL's caCert (base64 PEM)", async () => {
  const store = await createS3Store({
    bucket,
    prefix: "tls",
    config: config(),
    caCert: Buffer.from(ca.certPem).toString("base64"),
    credentialsFile: s3.credentialsFile,
  });
  try {
    await store.put("over-tls", new TextEncoder().encode("encrypted in transit"));
    assert.equal(new TextDecoder().decode(await store.get("over-tls")), "encrypted in transit");
  } finally {
    store.close();
  }
});

test("without caCert the unknown authority is refused, with a hint", async () => {
  await assert.rejects(
    createS3Store({ bucket, config: config(), credentialsFile: s3.credentialsFile }),
    /TLS verification of https:\/\/127\.0\.0\.1:\d+ failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE .*caCert/,
  );
});

test("insecureSkipTLSVerify skips verification", async () => {
  const store = await createS3Store({
    bucket,
    config: config({ insecureSkipTLSVerify: "true" }),
    credentialsFile: s3.credentialsFile,
  });
  try {
    assert.equal(await store.stat("tls/missing"), undefined);
  } finally {
    store.close();
  }
});
