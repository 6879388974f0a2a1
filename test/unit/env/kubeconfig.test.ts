import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { loadKubeConfig, renderKubeconfig, writeKubeconfig } from "../../env/kubeconfig.ts";

const input = {
  server: "https://127.0.0.1:6443",
  caPem: "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n",
  certPem: "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n",
  keyPem: "-----BEGIN RSA PRIVATE KEY-----\nkey\n-----END RSA PRIVATE KEY-----\n",
};

describe("renderKubeconfig", () => {
  it("embeds the CA, client certificate and key base64-encoded under one current context", () => {
    const doc = parse(renderKubeconfig(input));
    assert.equal(doc["current-context"], "admin@skiff-test");
    assert.equal(doc.clusters[0].cluster.server, input.server);
    assert.equal(Buffer.from(doc.clusters[0].cluster["certificate-authority-data"], "base64").toString(), input.caPem);
    assert.equal(Buffer.from(doc.users[0].user["client-certificate-data"], "base64").toString(), input.certPem);
    assert.equal(Buffer.from(doc.users[0].user["client-key-data"], "base64").toString(), input.keyPem);
    assert.deepEqual(doc.contexts[0], { name: "admin@skiff-test", context: { cluster: "skiff-test", user: "admin" } });
  });

  it("writes a file only its owner can read, which client-node loads", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skiff-unit-kubeconfig-"));
    try {
      const path = join(dir, "kubeconfig");
      await writeKubeconfig(path, { ...input, userName: "someone" });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const kc = loadKubeConfig(path);
      assert.equal(kc.getCurrentCluster()?.server, input.server);
      assert.equal(kc.getCurrentUser()?.name, "someone");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
