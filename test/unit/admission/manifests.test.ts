/**
 * The install manifests against the code: kustomization.yaml references only files that exist (and every CRD
 * and policy file), every manifest parses, the webhook rules route every request a shipped policy matches to
 * the webhook, and RBAC lets the watch caches read every kind the shipped policies look up.
 */
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { readPolicyFolder } from "../../../src/admission/policy-files.ts";
import { viewKinds } from "../../../src/admission/webhook.ts";
import { compilePolicySet, type PolicyDocument } from "../../../src/policy/index.ts";
import { selectorMatches } from "../../../src/policy/selectors.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));

interface Kustomization {
  resources?: string[];
  configMapGenerator?: { files?: string[] }[];
  patches?: { path?: string }[];
}

async function exists(path: string) {
  return stat(path).then(
    (s) => s,
    () => undefined,
  );
}

/** Every manifest file a kustomization pulls in, following directories that hold a kustomization.yaml. */
async function kustomizedFiles(dir: string): Promise<{ resources: string[]; generated: string[] }> {
  const k = parse(await readFile(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
  const resources: string[] = [];
  const generated: string[] = [];
  for (const entry of k.resources ?? []) {
    const path = join(dir, entry);
    const info = await exists(path);
    assert.ok(info, `${join(dir, "kustomization.yaml")} references ${entry}, which does not exist`);
    if (info.isDirectory()) {
      assert.ok(await exists(join(path, "kustomization.yaml")), `${entry} is a folder without kustomization.yaml`);
      const inner = await kustomizedFiles(path);
      resources.push(...inner.resources);
      generated.push(...inner.generated);
    } else {
      resources.push(path);
    }
  }
  for (const patch of k.patches ?? []) {
    if (patch.path) assert.ok(await exists(join(dir, patch.path)), `patch ${patch.path} does not exist`);
  }
  for (const generator of k.configMapGenerator ?? []) {
    for (const file of generator.files ?? []) {
      const path = join(dir, file.includes("=") ? (file.split("=")[1] as string) : file);
      assert.ok(await exists(path), `configMapGenerator file ${file} does not exist`);
      generated.push(path);
    }
  }
  return { resources, generated };
}

async function yamlNames(dir: string) {
  return (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && n !== "kustomization.yaml").map((n) => join(dir, n));
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML
type Manifest = any;

async function manifests(files: string[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const value = doc.toJS();
      if (value === null) continue;
      assert.ok(
        value.apiVersion && value.kind && value.metadata?.name,
        `${file}: a document without apiVersion/kind/name`,
      );
      out.push(value);
    }
  }
  return out;
}

describe("install manifests", () => {
  it("kustomization.yaml references only existing files, and every CRD and shipped policy", async () => {
    const { resources, generated } = await kustomizedFiles(root);
    for (const crd of await yamlNames(join(root, "manifests/crds"))) {
      assert.ok(resources.includes(crd), `${crd} is not listed in kustomization.yaml`);
    }
    for (const policy of await yamlNames(join(root, "policies"))) {
      assert.ok(generated.includes(policy), `${policy} is not in the skiff-policies configMapGenerator`);
    }
    const all = await manifests(resources);
    const kinds = new Set(all.map((m) => m.kind));
    for (const kind of ["Namespace", "ServiceAccount", "ClusterRole", "Role", "Deployment", "Service"]) {
      assert.ok(kinds.has(kind), `no ${kind} in the install`);
    }
    for (const kind of ["PodDisruptionBudget", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      assert.ok(kinds.has(kind), `no ${kind} in the install`);
    }
  });

  it("the cert-manager overlay resolves and switches the webhook to mounted certificates", async () => {
    const overlay = join(root, "manifests/overlays/cert-manager");
    const { resources } = await kustomizedFiles(overlay);
    assert.ok(resources.includes(join(root, "manifests/webhook-deployment.yaml")));
    const patch = (await manifests([join(overlay, "deployment-patch.yaml")]))[0];
    const args: string[] = patch.spec.template.spec.containers[0].args;
    assert.ok(args.includes("--cert-mode=files"));
    await manifests([join(overlay, "certificate.yaml")]);
  });

  it("runs the webhook hardened: 2 replicas, restricted security context, probes, resources", async () => {
    const [deployment] = (await manifests([join(root, "manifests/webhook-deployment.yaml")])).filter(
      (m) => m.kind === "Deployment",
    );
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.ok(deployment.spec.replicas >= 2);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.ok(pod.affinity.podAntiAffinity);
  });
});

// Plural resource names of the kinds policies may match. A kind missing here fails the test on purpose.
const plurals: Record<string, string> = {
  Pod: "pods",
  PersistentVolumeClaim: "persistentvolumeclaims",
  ConfigMap: "configmaps",
  Secret: "secrets",
  Deployment: "deployments",
  DaemonSet: "daemonsets",
  StatefulSet: "statefulsets",
  Job: "jobs",
  Backup: "backups",
  Schedule: "schedules",
  Restore: "restores",
  BackupRepository: "backuprepositories",
  PodVolumeBackup: "podvolumebackups",
  PodVolumeRestore: "podvolumerestores",
  DataUpload: "datauploads",
  DataDownload: "datadownloads",
  BackupStorageLocation: "backupstoragelocations",
  VolumeSnapshotLocation: "volumesnapshotlocations",
};

/** The labels the API server gives every Namespace, which the configurations' namespaceSelectors use. */
const namespaceLabels = (name: string) => ({ "kubernetes.io/metadata.name": name });

interface Rule {
  apiGroups: string[];
  resources: string[];
  operations: string[];
}

function covered(rules: Rule[], group: string, resource: string, operation: string): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups.includes(group) || r.apiGroups.includes("*")) &&
      (r.resources.includes(resource) || (r.resources.includes("*") && !resource.includes("/"))) &&
      (r.operations.includes(operation) || r.operations.includes("*")),
  );
}

describe("webhook configurations", async () => {
  const mutating = (await manifests([join(root, "webhooks/mutating.yaml")]))[0];
  const validating = (await manifests([join(root, "webhooks/validating.yaml")]))[0];
  const shipped = await readPolicyFolder(join(root, "policies"));

  it("loads the shipped policies without errors", () => {
    assert.deepEqual(shipped.errors, []);
    assert.ok(shipped.policies.length > 0);
  });

  it("follow the safe defaults", () => {
    for (const config of [mutating, validating]) {
      for (const w of config.webhooks) {
        assert.deepEqual(w.admissionReviewVersions, ["v1"], w.name);
        assert.equal(w.sideEffects, "None", w.name);
        assert.ok(w.timeoutSeconds >= 1 && w.timeoutSeconds <= 10, w.name);
        assert.ok(["Fail", "Ignore"].includes(w.failurePolicy), `${w.name}: failurePolicy set explicitly`);
        assert.equal(w.matchPolicy, "Equivalent", w.name);
        assert.equal(selectorMatches(w.namespaceSelector, namespaceLabels("kube-system")), false, w.name);
      }
    }
    assert.ok(mutating.webhooks.every((w: { reinvocationPolicy: string }) => w.reinvocationPolicy === "IfNeeded"));
  });

  it("route every request a shipped policy matches to the webhook", () => {
    const check = (policy: PolicyDocument, config: Manifest, what: string) => {
      const rules: Rule[] = config.webhooks.flatMap((w: { rules: Rule[] }) => w.rules);
      for (const match of policy.spec.match.resources) {
        for (const kind of match.kinds) {
          const plural = plurals[kind];
          assert.ok(plural, `${policy.metadata.name}: add the plural of ${kind} to this test`);
          for (const sub of match.subresources ?? [""]) {
            const resource = sub ? `${plural}/${sub}` : plural;
            for (const op of policy.spec.match.operations ?? ["CREATE", "UPDATE"]) {
              assert.ok(
                covered(rules, match.group, resource, op),
                `${policy.metadata.name} ${what} ${op} ${match.group || "core"}/${resource}, which no rule of ${config.metadata.name} sends to the webhook`,
              );
            }
          }
        }
      }
    };
    for (const policy of shipped.policies) {
      if (policy.spec.validate?.length) check(policy, validating, "validates");
      if (policy.spec.mutate?.length) check(policy, mutating, "mutates");
    }
  });

  it("intercept the install namespace, where the data mover's objects and Skiff's ConfigMaps live", async () => {
    const [namespace] = await manifests([join(root, "manifests/namespace.yaml")]);
    const installNamespace: string = namespace.metadata.name;
    const labels = { ...namespace.metadata.labels, ...namespaceLabels(installNamespace) };
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      assert.ok(
        selectorMatches(w.namespaceSelector, labels),
        `${w.name} skips the install namespace ${installNamespace}`,
      );
      assert.ok(selectorMatches(w.namespaceSelector, namespaceLabels("velero")), `${w.name} skips velero`);
    }
    // Objects as a data mover creates them: not labelled as Skiff's webhook, so the objectSelector lets them in.
    const moverObjects: { metadata: { labels?: Record<string, string> } }[] = [
      { metadata: { labels: { "velero.io/data-upload": "du-1" } } },
      { metadata: {} },
      { metadata: { labels: { "skiff.dev/config-type": "node-agent", "app.kubernetes.io/part-of": "skiff" } } },
    ];
    for (const w of [...mutating.webhooks, ...validating.webhooks]) {
      for (const object of moverObjects) {
        assert.ok(
          selectorMatches(w.objectSelector, object.metadata.labels ?? {}),
          `${w.name} skips ${JSON.stringify(object)}`,
        );
      }
    }
    // And the engine does not skip it either: a policy that should must say so.
    const { set } = compilePolicySet(shipped.policies, { installNamespace });
    for (const policy of set.policies) {
      assert.ok(
        !policy.match.excludedNamespaces.includes(installNamespace),
        `${policy.id} excludes ${installNamespace}`,
      );
      assert.ok(policy.match.excludedNamespaces.includes("kube-system"), `${policy.id} sees kube-system`);
    }
  });

  it("never send Skiff's own webhook objects to the webhook, so it can always be (re)created", async () => {
    const files = (await readdir(join(root, "manifests"))).filter((f) => /^webhook-.*\.yaml$/.test(f));
    const own = await manifests(files.map((f) => join(root, "manifests", f)));
    // The pods the Deployment's ReplicaSet creates carry the pod template's labels.
    const pods = own
      .filter((m) => m.kind === "Deployment")
      .map((d) => ({ apiVersion: "v1", kind: "Pod", metadata: d.spec.template.metadata }));
    assert.equal(pods.length, 1);
    let checked = 0;
    for (const object of [...own, ...pods]) {
      if (object.kind === "Namespace") continue;
      const group = object.apiVersion.includes("/") ? object.apiVersion.split("/")[0] : "";
      const plural = plurals[object.kind] ?? `${object.kind.toLowerCase()}s`;
      for (const w of [...mutating.webhooks, ...validating.webhooks]) {
        const intercepted = ["CREATE", "UPDATE"].some((op) => covered(w.rules, group, plural, op));
        if (!intercepted) continue;
        checked++;
        assert.equal(
          selectorMatches(w.objectSelector, object.metadata.labels ?? {}),
          false,
          `${w.name} (failurePolicy ${w.failurePolicy}) would review Skiff's own ${object.kind} ${object.metadata.name}`,
        );
      }
    }
    // The Deployment and its Pods are intercepted by the workload and mutating webhooks: the check is not vacuous.
    assert.ok(checked >= 3, `only ${checked} own objects are covered by any rule`);
  });

  it("grant the webhook read access to every kind the shipped policies look up", async () => {
    const rbac = await manifests([join(root, "manifests/webhook-rbac.yaml")]);
    const clusterRole = rbac.find((m) => m.kind === "ClusterRole");
    const role = rbac.find((m) => m.kind === "Role");
    const { set } = compilePolicySet(shipped.policies, { installNamespace: "skiff-system" });
    for (const k of viewKinds(set)) {
      const group = k.apiVersion.includes("/") ? (k.apiVersion.split("/")[0] as string) : "";
      const plural = plurals[k.kind] ?? `${k.kind.toLowerCase()}s`;
      const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = [
        ...clusterRole.rules,
        ...(k.namespace ? role.rules : []),
      ];
      const ok = rules.some(
        (r) =>
          r.apiGroups.includes(group) &&
          r.resources.includes(plural) &&
          ["list", "watch"].every((v) => r.verbs.includes(v)),
      );
      assert.ok(ok, `RBAC does not let the webhook list and watch ${plural}.${group || "core"}`);
    }
  });
});
