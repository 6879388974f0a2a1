import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apiServerArgs } from "../../env/apiserver.ts";
import { uniqueName } from "../../env/cluster.ts";
import { parseCrds } from "../../env/crds.ts";
import { freePorts, isPortClash } from "../../env/ports.ts";
import { renderCredentialsFile } from "../../env/s3.ts";

describe("ports", () => {
  it("recognises a port clash from an errno or from server output", () => {
    assert.equal(isPortClash(Object.assign(new Error("listen"), { code: "EADDRINUSE" })), true);
    assert.equal(
      isPortClash(Object.assign(new Error("etcd exited"), { output: "bind: address already in use" })),
      true,
    );
    assert.equal(isPortClash(new Error("certificate signed by unknown authority")), false);
  });

  it("hands out distinct loopback ports", async () => {
    const ports = await freePorts(3);
    assert.equal(new Set(ports).size, 3);
    for (const port of ports) assert.ok(port > 0 && port < 65536);
  });
});

describe("apiServerArgs", () => {
  const args = apiServerArgs({
    port: 6443,
    etcdUrl: "http://127.0.0.1:2379",
    dir: "/tmp/x",
    files: { tlsCert: "/c", tlsKey: "/k", clientCA: "/ca", serviceAccountKey: "/sa" },
  });

  it("binds loopback, authorizes with RBAC and keeps the default admission plugins", () => {
    assert.ok(args.includes("--bind-address=127.0.0.1"));
    assert.ok(args.includes("--authorization-mode=RBAC"));
    assert.ok(args.includes("--service-account-issuer=https://127.0.0.1:6443/"));
    assert.ok(
      !args.some((a) => a.startsWith("--disable-admission-plugins") || a.startsWith("--enable-admission-plugins")),
    );
  });
});

describe("uniqueName", () => {
  it("makes a DNS-1123 label with a random suffix", () => {
    const a = uniqueName("My_Test.Suite");
    assert.match(a, /^my-test-suite-[0-9a-f]{8}$/);
    assert.notEqual(uniqueName("x"), uniqueName("x"));
    assert.ok(uniqueName("a".repeat(100)).length <= 63);
  });
});

describe("parseCrds", () => {
  it("reads multi-document YAML and rejects other kinds", () => {
    const crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: a.b}\n";
    assert.equal(parseCrds(`${crd}---\n${crd}`, "x.yaml").length, 2);
    assert.throws(() => parseCrds("kind: ConfigMap\n", "y.yaml"), /y\.yaml: expected kind CustomResourceDefinition/);
  });
});

describe("renderCredentialsFile", () => {
  it("writes the [default] profile in the AWS shared-credentials format", () => {
    assert.equal(renderCredentialsFile("AK", "SK"), "[default]\naws_access_key_id = AK\naws_secret_access_key = SK\n");
  });
});
