/**
 * `skiff policy apply -f manifest.yaml [--policies DIR] [--resources FILE] [--namespace-labels NS:k=v,...]`:
 * runs each object of a manifest through the mutating and validating passes offline and prints the mutated
 * objects and the verdicts. Exit 0 when everything is allowed, 1 when something is denied, 2 on usage/load errors.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { compilePolicySet, formatLoadError, type KubeObject, staticClusterView } from "../policy/index.ts";
import { buildRequest, simulateAdmission } from "../policy/simulate.ts";
import type { CommandRun } from "./commands.ts";
import { loadPolicies } from "./policy-fixtures.ts";

const usage = `Usage: skiff policy apply -f MANIFEST [options]
  -f, --file FILE              objects to admit (multi-document YAML; repeatable)
  -p, --policies PATH          policy file or directory (repeatable; default ./policies)
  -r, --resources FILE         cluster objects the policies may read: namespaces, ConfigMaps, claims (repeatable)
  -l, --namespace-labels NS:K=V,K=V   labels of a namespace (repeatable)
      --operation OP           CREATE (default) or UPDATE
      --install-namespace NS   Skiff's namespace (default skiff)
`;

async function readObjects(path: string): Promise<KubeObject[]> {
  const docs = parseAllDocuments(await readFile(path, "utf8"));
  if (!Array.isArray(docs)) return [];
  const objects: KubeObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as KubeObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

export function parseNamespaceLabels(spec: string): KubeObject {
  const colon = spec.indexOf(":");
  if (colon <= 0) throw new Error(`--namespace-labels ${JSON.stringify(spec)}: expected NAMESPACE:key=value,...`);
  const name = spec.slice(0, colon);
  const labels: Record<string, string> = { "kubernetes.io/metadata.name": name };
  for (const pair of spec
    .slice(colon + 1)
    .split(",")
    .filter(Boolean)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--namespace-labels: "${pair}" is not key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

export const run: CommandRun = async ({ argv, stdout, stderr }) => {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        file: { type: "string", short: "f", multiple: true },
        policies: { type: "string", short: "p", multiple: true },
        resources: { type: "string", short: "r", multiple: true },
        "namespace-labels": { type: "string", short: "l", multiple: true },
        operation: { type: "string", default: "CREATE" },
        "install-namespace": { type: "string", default: "skiff" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    stderr.write(`skiff policy apply: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    stdout.write(usage);
    return 0;
  }
  const files = (values.file as string[] | undefined) ?? [];
  const operation = values.operation as string;
  if (files.length === 0 || (operation !== "CREATE" && operation !== "UPDATE")) {
    stderr.write(usage);
    return 2;
  }
  let objects: KubeObject[] = [];
  const resources: KubeObject[] = [];
  let set: ReturnType<typeof compilePolicySet>["set"];
  try {
    for (const f of files) objects = objects.concat(await readObjects(f));
    for (const f of (values.resources as string[] | undefined) ?? []) resources.push(...(await readObjects(f)));
    for (const spec of (values["namespace-labels"] as string[] | undefined) ?? [])
      resources.push(parseNamespaceLabels(spec));
    const loaded = await loadPolicies((values.policies as string[] | undefined) ?? ["policies"]);
    const compiled = compilePolicySet(loaded.policies, { installNamespace: values["install-namespace"] as string });
    const errors = [...loaded.errors, ...compiled.errors.map(formatLoadError)];
    if (errors.length > 0) {
      for (const e of errors) stderr.write(`${e}\n`);
      return 2;
    }
    set = compiled.set;
  } catch (err) {
    stderr.write(`skiff policy apply: ${(err as Error).message}\n`);
    return 2;
  }
  const view = staticClusterView(resources, { synthesizeNamespaces: true });
  let denied = 0;
  for (const object of objects) {
    const request = buildRequest({
      operation: operation as "CREATE" | "UPDATE",
      object,
      oldObject: operation === "UPDATE" ? object : null,
    });
    const result = simulateAdmission(set, view, request);
    const id = `${object.kind ?? "?"} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata?.name ?? ""}`;
    stdout.write(`# ${id}: ${result.allowed ? "ALLOWED" : "DENIED"}\n`);
    if (!result.allowed) {
      denied++;
      stdout.write(`#   denied: ${result.message}\n`);
    }
    for (const w of result.warnings) stdout.write(`#   warning: ${w}\n`);
    for (const [k, v] of Object.entries(result.auditAnnotations)) stdout.write(`#   audit ${k}: ${v}\n`);
    for (const r of [...result.mutate.results, ...result.validate.results]) {
      if (r.outcome === "error") stdout.write(`#   error: ${r.message}\n`);
    }
    const changes = result.mutate.patch.length;
    stdout.write(`#   ${changes === 0 ? "unchanged" : `${changes} patch operation${changes === 1 ? "" : "s"}`}\n`);
    stdout.write(`---\n${stringify(result.patched)}`);
  }
  return denied > 0 ? 1 : 0;
};
