import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runSkiff } from "../../support/run-skiff.ts";

const cli = (...argv: string[]) => runSkiff(argv);

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "skiff-policy-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("policy test: every shipped fixture passes (the same code path as CI)", async () => {
  const { code, out } = await cli("policy", "test", "policies/tests");
  assert.equal(code, 0, out);
  assert.match(out, /^\d+ passed, 0 failed$/m);
  assert.doesNotMatch(out, /^FAIL/m);
});

test("policy test: a wrong expectation fails with a diff and exit code 1", async () => {
  await writeFile(
    join(dir, "wrong.test.yaml"),
    `policies: [${join(process.cwd(), "policies/backup-pvc.yaml")}]
installNamespace: velero
resources:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: node-agent-config, namespace: velero}, data: {c: '{"backupPVC": {"a": {"storageClass": "b"}}}'}}
cases:
  - name: expects the wrong class
    object:
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata: {name: du, namespace: velero, ownerReferences: [{apiVersion: velero.io/v2alpha1, kind: DataUpload, name: du, uid: u}]}
      spec: {storageClassName: a}
    expect:
      patched:
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: du, namespace: velero, ownerReferences: [{apiVersion: velero.io/v2alpha1, kind: DataUpload, name: du, uid: u}]}
        spec: {storageClassName: c}
`,
  );
  const { code, out } = await cli("policy", "test", dir);
  assert.equal(code, 1);
  assert.match(out, /FAIL .*expects the wrong class/);
  assert.match(out, /- +"storageClassName": "c"/);
  assert.match(out, /\+ +"storageClassName": "b"/);
});

test("policy lint: names file, line, field and problem; exit 1", async () => {
  const file = join(dir, "bad.yaml");
  await writeFile(
    file,
    "apiVersion: policy.skiff.dev/v1alpha1\nkind: ClusterBackupPolicy\nmetadata: {name: bad}\nspec:\n  match: {resources: [{group: '', kinds: [Pod]}]}\n  validate:\n    - name: v\n      expression: object.metadata.name == 1 +\n      action: Block\n",
  );
  const { code, out } = await cli("policy", "lint", file);
  assert.equal(code, 1);
  assert.match(out, new RegExp(`${file}:9: /spec/validate/0/action: must be one of "Deny", "Warn", "Audit"`));
  const shipped = await cli("policy", "lint", "policies");
  assert.equal(shipped.code, 0, shipped.out);
});

test("policy lint and test: usage errors exit 2", async () => {
  assert.equal((await cli("policy", "lint")).code, 2);
  assert.equal((await cli("policy", "test", join(dir, "missing"))).code, 2);
});

test("policy apply: prints the mutated object and the verdicts", async () => {
  const manifest = join(dir, "pod.yaml");
  await writeFile(
    manifest,
    "apiVersion: v1\nkind: Pod\nmetadata: {name: du-1, namespace: velero, labels: {velero.io/data-upload: du-1}}\nspec:\n  containers: [{name: m, image: i, securityContext: {seLinuxOptions: {type: spc_t}}}]\n",
  );
  const denied = await cli(
    "policy",
    "apply",
    "-f",
    manifest,
    "--namespace-labels",
    "velero:pod-security.kubernetes.io/enforce=baseline",
  );
  assert.equal(denied.code, 1, denied.err);
  assert.match(denied.out, /# Pod velero\/du-1: DENIED/);
  assert.match(denied.out, /SELinux type "spc_t"/);
  const allowed = await cli("policy", "apply", "-f", manifest, "-l", "velero:pod-security.kubernetes.io/warn=baseline");
  assert.equal(allowed.code, 0, allowed.err);
  assert.match(allowed.out, /# Pod velero\/du-1: ALLOWED/);
  assert.match(allowed.out, /# {3}warning: would violate Pod Security "baseline"/);
  assert.match(allowed.out, /name: du-1/);
  assert.equal((await cli("policy", "apply", "--bogus")).code, 2);
});
