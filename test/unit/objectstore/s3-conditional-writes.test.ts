/**
 * putIfAbsent on servers without conditional writes. No such server runs on this machine (versitygw enforces
 * If-None-Match), so a small in-memory stand-in plays one: it either ignores the header or answers 501.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { S3ObjectStore } from "../../../src/objectstore/s3.ts";
import { parseS3Config } from "../../../src/objectstore/s3-config.ts";

type Behaviour = "ignores-if-none-match" | "rejects-if-none-match";

function standInServer(behaviour: Behaviour) {
  const objects = new Map<string, Uint8Array>();
  const requests: string[] = [];
  const failure = (name: string, status: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const op = command.constructor.name.replace(/Command$/, "");
      const key = String(command.input.Key);
      requests.push(`${op} ${key}`);
      if (op === "PutObject") {
        if (command.input.IfNoneMatch && behaviour === "rejects-if-none-match") throw failure("NotImplemented", 501);
        objects.set(key, command.input.Body as Uint8Array);
        return {};
      }
      if (op === "HeadObject") {
        const body = objects.get(key);
        if (!body) throw failure("NotFound", 404);
        return { ContentLength: body.byteLength, LastModified: new Date() };
      }
      if (op === "DeleteObject") {
        objects.delete(key);
        return {};
      }
      throw new Error(`the stand-in does not implement ${op}`);
    },
    destroy() {},
  };
  return { client: client as unknown as S3Client, objects, requests };
}

function storeOn(server: ReturnType<typeof standInServer>, warnings: string[]) {
  const parsed = parseS3Config({ checksumAlgorithm: "" }, "test");
  assert.ok(parsed.ok);
  return new S3ObjectStore(server.client, {
    bucket: "b",
    prefix: "repo",
    endpoint: "http://stand-in",
    settings: parsed.settings,
    warn: (m) => warnings.push(m),
  });
}

for (const behaviour of ["ignores-if-none-match", "rejects-if-none-match"] as const) {
  test(`putIfAbsent falls back to check-then-write on a server that ${behaviour.replaceAll("-", " ")}`, async () => {
    const server = standInServer(behaviour);
    const warnings: string[] = [];
    const store = storeOn(server, warnings);
    assert.equal(await store.putIfAbsent("locks/a", new Uint8Array([1])), true);
    assert.equal(await store.putIfAbsent("locks/a", new Uint8Array([2])), false);
    assert.deepEqual([...(server.objects.get("repo/locks/a") ?? [])], [1]);
    assert.deepEqual([...server.objects.keys()], ["repo/locks/a"], "the probe object is deleted");
    assert.equal(warnings.length, 1, "the fallback is announced once");
    assert.match(warnings[0] ?? "", /does not enforce If-None-Match.*not safe with concurrent writers/);
    assert.equal(server.requests.filter((r) => r.includes("conditional-write-probe")).length > 0, true);
    const probes = server.requests.filter((r) => r.startsWith("PutObject repo/.skiff-conditional-write-probe"));
    await store.putIfAbsent("locks/b", new Uint8Array([3]));
    const probesAfter = server.requests.filter((r) => r.startsWith("PutObject repo/.skiff-conditional-write-probe"));
    assert.equal(probesAfter.length, probes.length, "the server is probed only once");
  });
}
