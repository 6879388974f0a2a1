/** The S3 server speaks real S3 to the AWS SDK: put, get, list and delete an object. */
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { type S3Server, uniqueName, useS3 } from "../../env/index.ts";

let s3: S3Server;
let client: S3Client;

before(async () => {
  s3 = await useS3();
  client = s3.client();
});

after(async () => {
  client.destroy();
  await s3.stop();
});

describe("S3 server", () => {
  it("writes a private credentials file in the AWS format", async () => {
    const text = await readFile(s3.credentialsFile, "utf8");
    assert.match(text, /^\[default\]$/m);
    assert.match(text, new RegExp(`^aws_access_key_id = ${s3.accessKeyId}$`, "m"));
    assert.equal((await stat(s3.credentialsFile)).mode & 0o777, 0o600);
  });

  it("stores, lists, reads back and deletes an object", async () => {
    const bucket = uniqueName("env-s3");
    await s3.createBucket(bucket);
    const body = Buffer.from("skiff backup bytes\n".repeat(100));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "backups/one/data.bin", Body: body }));

    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "backups/" }));
    assert.deepEqual(
      listed.Contents?.map((o) => [o.Key, o.Size]),
      [["backups/one/data.bin", body.length]],
    );

    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "backups/one/data.bin" }));
    assert.ok(got.Body, "GetObject returns a body");
    assert.deepEqual(Buffer.from(await got.Body.transformToByteArray()), body);

    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "backups/one/data.bin" }));
    const after = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(after.KeyCount, 0);
    await assert.rejects(
      client.send(new GetObjectCommand({ Bucket: bucket, Key: "backups/one/data.bin" })),
      (err: Error) => err.name === "NoSuchKey",
    );
  });

  it("refuses a request signed with the wrong secret", async () => {
    const { s3Client } = await import("../../env/index.ts");
    const wrong = s3Client({ ...s3, secretAccessKey: "not-the-secret" });
    try {
      await assert.rejects(wrong.send(new ListObjectsV2Command({ Bucket: "anything" })), (err: Error) =>
        /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/.test(err.name),
      );
    } finally {
      wrong.destroy();
    }
  });
});
