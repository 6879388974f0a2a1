/**
 * The S3 backend against a real S3 server (test/env's useS3): the shared ObjectStore conformance suite, then
 * what only S3 has (prefixes in a shared bucket, BSL config keys, credentials, clear errors).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createS3Store, openS3Store, type S3ObjectStore, S3StoreError } from "../../../src/objectstore/s3.ts";
import { type S3Server, useS3 } from "../../env/index.ts";
import { objectStoreConformance } from "../../support/objectstore-conformance.ts";

let s3: S3Server;
const bucket = `skiff-s3-${randomBytes(4).toString("hex")}`;
let counter = 0;

before(async () => {
  s3 = await useS3();
  await s3.createBucket(bucket);
});

const configFor = (server: S3Server, extra: Record<string, string> = {}) => ({
  region: server.region,
  s3Url: server.endpoint,
  s3ForcePathStyle: "true",
  ...extra,
});

async function freshStore(extra: Record<string, string> = {}): Promise<S3ObjectStore> {
  counter += 1;
  return createS3Store({
    bucket,
    prefix: `conformance/${counter}-${randomBytes(3).toString("hex")}`,
    config: configFor(s3, extra),
    credentialsFile: s3.credentialsFile,
    // Small pages make the listing tests cross several pages.
    listPageSize: 7,
  });
}

objectStoreConformance("s3 (CRC32 checksums)", async () => {
  const store = await freshStore();
  return { store, cleanup: async () => store.close() };
});

objectStoreConformance('s3 (checksumAlgorithm "")', async () => {
  const store = await freshStore({ checksumAlgorithm: "" });
  return { store, cleanup: async () => store.close() };
});

describe("S3 store against the real server", () => {
  const stores: S3ObjectStore[] = [];
  const tempDirs: string[] = [];
  after(async () => {
    for (const store of stores) store.close();
    for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
  });
  const keep = (store: S3ObjectStore) => {
    stores.push(store);
    return store;
  };
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "skiff-s3-test-"));
    tempDirs.push(dir);
    return dir;
  };

  test("stores under its prefix only, and sibling prefixes do not leak into listings", async () => {
    const a = keep(
      await createS3Store({ bucket, prefix: "iso/a", config: configFor(s3), credentialsFile: s3.credentialsFile }),
    );
    const ab = keep(
      await createS3Store({ bucket, prefix: "/iso/ab/", config: configFor(s3), credentialsFile: s3.credentialsFile }),
    );
    const root = keep(await createS3Store({ bucket, config: configFor(s3), credentialsFile: s3.credentialsFile }));
    await a.put("k", new TextEncoder().encode("in a"));
    await ab.put("k", new TextEncoder().encode("in ab"));
    assert.equal(a.describe, `s3://${bucket}/iso/a`);
    assert.equal(ab.describe, `s3://${bucket}/iso/ab`);
    const listed = async (store: S3ObjectStore, prefix: string) => {
      const keys: string[] = [];
      for await (const item of store.list(prefix)) keys.push(item.key);
      return keys;
    };
    assert.deepEqual(await listed(a, ""), ["k"]);
    assert.deepEqual(await listed(ab, ""), ["k"]);
    assert.deepEqual(await listed(root, "iso/"), ["iso/a/k", "iso/ab/k"]);
    assert.equal(new TextDecoder().decode(await root.get("iso/ab/k")), "in ab");
  });

  test("opens from an s3:// location whose query carries the BSL config keys", async () => {
    const query = new URLSearchParams({ ...configFor(s3), checksumAlgorithm: "" });
    const url = new URL(`s3://${bucket}/cli/repo?${query}`);
    const store = keep(await openS3Store(url, { credentialsFile: s3.credentialsFile }));
    assert.equal(store.describe, `s3://${bucket}/cli/repo`);
    await store.put("config", new TextEncoder().encode("hello"));
    const root = keep(await createS3Store({ bucket, config: configFor(s3), credentialsFile: s3.credentialsFile }));
    assert.equal((await root.stat("cli/repo/config"))?.size, 5);
  });

  test("enforces conditional writes natively on this server (no fallback warning)", async () => {
    const warnings: string[] = [];
    const store = keep(
      await createS3Store({
        bucket,
        prefix: "conditional",
        config: configFor(s3),
        credentialsFile: s3.credentialsFile,
        warn: (m) => warnings.push(m),
      }),
    );
    assert.equal(await store.putIfAbsent("lock", new Uint8Array([1])), true);
    assert.equal(await store.putIfAbsent("lock", new Uint8Array([2])), false);
    assert.deepEqual(warnings, []);
    const left: string[] = [];
    for await (const item of store.list("")) left.push(item.key);
    assert.deepEqual(left, ["lock"], "the probe object is removed");
  });

  test("putIfAbsent counts an existing object with the same bytes as its own (a retried PUT)", async () => {
    const store = keep(
      await createS3Store({ bucket, prefix: "retried", config: configFor(s3), credentialsFile: s3.credentialsFile }),
    );
    const body = new TextEncoder().encode("config v1");
    assert.equal(await store.putIfAbsent("config", body), true);
    assert.equal(await store.putIfAbsent("config", body), true);
    assert.equal(await store.putIfAbsent("config", new TextEncoder().encode("config v2")), false);
    assert.equal(new TextDecoder().decode(await store.get("config")), "config v1");
  });

  test("a missing bucket is reported by name and endpoint", async () => {
    await assert.rejects(
      createS3Store({ bucket: "skiff-no-such-bucket", config: configFor(s3), credentialsFile: s3.credentialsFile }),
      (err: unknown) => {
        assert.ok(err instanceof S3StoreError);
        assert.equal(err.message, `bucket 'skiff-no-such-bucket' does not exist at ${new URL(s3.endpoint).origin}`);
        return true;
      },
    );
  });

  test("a wrong secret key is reported as rejected credentials, without the secret", async () => {
    const secret = "not-the-right-secret-0123456789";
    await assert.rejects(
      createS3Store({
        bucket,
        config: configFor(s3),
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: secret },
      }),
      (err: unknown) => {
        assert.ok(err instanceof S3StoreError, String(err));
        assert.match(err.message, /credentials were rejected|access denied/);
        assert.ok(!err.message.includes(secret));
        assert.ok(!err.message.includes(s3.secretAccessKey));
        return true;
      },
    );
  });

  test("operations on an unknown access key fail with the S3 error code and the key", async () => {
    const store = keep(
      await createS3Store({
        bucket,
        config: configFor(s3),
        credentials: { accessKeyId: "SKIFFUNKNOWNKEY", secretAccessKey: "whatever-secret-value" },
        verifyBucket: false,
      }),
    );
    await assert.rejects(store.put("x/y", new Uint8Array([1])), (err: unknown) => {
      assert.ok(err instanceof S3StoreError);
      // AWS answers InvalidAccessKeyId (403); versitygw answers XAdminUserNotFound (404).
      assert.match(err.message, new RegExp(`^put s3://${bucket}/x/y: the credentials were rejected by `));
      assert.ok(err.message.includes(err.code), err.message);
      assert.ok(!err.message.includes("whatever-secret-value"));
      return true;
    });
  });

  test("a credentials file without the profile names the file and the profiles it has", async () => {
    await assert.rejects(
      createS3Store({ bucket, config: configFor(s3, { profile: "backup" }), credentialsFile: s3.credentialsFile }),
      new RegExp(`${s3.credentialsFile.replaceAll("/", "\\/")}: profile 'backup' not found; profiles found: default`),
    );
  });

  test("reads a named profile from a credentials file", async () => {
    const dir = await tempDir();
    const file = join(dir, "cloud");
    await writeFile(
      file,
      `[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n# the one Velero is told to use\n[backup]\naws_access_key_id=${s3.accessKeyId}\naws_secret_access_key=${s3.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    const store = keep(
      await createS3Store({ bucket, config: configFor(s3, { profile: "backup" }), credentialsFile: file }),
    );
    await store.put("profile-check", new Uint8Array([7]));
    assert.deepEqual([...(await store.get("profile-check"))], [7]);
  });

  test("an endpoint nobody listens on is reported as unreachable", async () => {
    await assert.rejects(
      createS3Store({
        bucket,
        config: configFor(s3, { s3Url: "http://127.0.0.1:1" }),
        credentialsFile: s3.credentialsFile,
      }),
      /cannot reach http:\/\/127\.0\.0\.1:1: ECONNREFUSED/,
    );
  });

  test("a caCert file that does not exist is named", async () => {
    const query = new URLSearchParams({ ...configFor(s3), caCert: "/nonexistent/ca.pem" });
    await assert.rejects(
      openS3Store(new URL(`s3://${bucket}/x?${query}`), { credentialsFile: s3.credentialsFile }),
      /cannot read the caCert file \/nonexistent\/ca\.pem/,
    );
  });
});
