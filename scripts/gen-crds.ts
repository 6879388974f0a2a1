/**
 * `npm run gen:crds`: writes the CRDs into manifests/crds/: the velero.io kinds (generated from src/api/velero/)
 * and Skiff's own policy.skiff.dev kinds (converted from the policy JSON Schema in src/api/policy/schema.ts).
 * With --check it writes nothing and exits 1 when a committed file differs from the generated one.
 * A unit test compares the committed files with generateAllCrdFiles().
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { policySchema } from "../src/api/policy/schema.ts";
import { policyApiVersion } from "../src/api/policy/types.ts";
import { generateCrdFiles } from "../src/api/velero/crds.ts";

type Schema = Record<string, unknown>;

const [policyGroup, policyVersion] = policyApiVersion.split("/") as [string, string];

/** Keywords OpenAPI v3 in a CRD accepts as they are; anything else in the JSON Schema needs a rule below. */
const plainKeywords = new Set([
  "type",
  "description",
  "required",
  "enum",
  "pattern",
  "format",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "minItems",
  "maxItems",
]);
const junctors = ["allOf", "anyOf", "oneOf"] as const;

function typeOfEnum(values: unknown[], path: string): string {
  const types = new Set(values.map((v) => (Number.isInteger(v) ? "integer" : typeof v)));
  const [only] = types;
  if (types.size !== 1 || !only || !["string", "integer", "number", "boolean"].includes(only)) {
    throw new Error(`${path}: an enum mixing types (${[...types].join(", ")}) has no structural type`);
  }
  return only;
}

/**
 * One draft-07 node as a structural OpenAPI v3 node. Inside allOf/anyOf/oneOf/not (`inJunctor`) the apiserver
 * forbids type, description and additionalProperties, so nothing is inferred there; elsewhere every node gets a
 * type, and a node that accepts any JSON value ({}) preserves it instead of being pruned. `if/then` has no
 * OpenAPI counterpart and becomes the equivalent `anyOf: [not if, then]`. Unknown keywords are an error, so a
 * schema change cannot silently produce a CRD that validates less than the loader does.
 */
export function toStructural(node: Schema, path: string, inJunctor = false): Schema {
  const out: Schema = {};
  const conditions: Schema[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (plainKeywords.has(key)) out[key] = value;
    else if (key === "$schema" || key === "$id" || key === "title") continue;
    else if (key === "const") out.enum = [value];
    else if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [
          name,
          toStructural(child, `${path}.${name}`, inJunctor),
        ]),
      );
    } else if (key === "items") out.items = toStructural(value as Schema, `${path}[]`, inJunctor);
    else if (key === "additionalProperties") {
      // false is the default behaviour of a CRD (unknown fields are pruned, or rejected under strict field
      // validation); OpenAPI in a CRD does not allow it next to properties.
      if (value === false) continue;
      if (inJunctor) throw new Error(`${path}: additionalProperties inside allOf/anyOf/oneOf/not`);
      out.additionalProperties = toStructural(value as Schema, `${path}{}`);
    } else if ((junctors as readonly string[]).includes(key)) {
      out[key] = (value as Schema[]).map((s, i) => toStructural(s, `${path}.${key}[${i}]`, true));
    } else if (key === "not") out.not = toStructural(value as Schema, `${path}.not`, true);
    else if (key === "if") {
      if (!("then" in node) || "else" in node) throw new Error(`${path}: only if/then (without else) converts`);
      conditions.push({
        anyOf: [
          { not: toStructural(value as Schema, `${path}.if`, true) },
          toStructural(node.then as Schema, `${path}.then`, true),
        ],
      });
    } else if (key === "then") continue;
    else throw new Error(`${path}: JSON Schema keyword "${key}" has no CRD conversion`);
  }
  if (conditions.length === 1 && out.anyOf === undefined) out.anyOf = conditions[0]?.anyOf;
  else if (conditions.length > 0) out.allOf = [...((out.allOf as Schema[] | undefined) ?? []), ...conditions];
  if (!inJunctor && out.type === undefined) {
    if (Array.isArray(out.enum)) out.type = typeOfEnum(out.enum, path);
    else if (Object.keys(out).length === 0) {
      // Any JSON value (a patch value): kept as written, null included.
      out["x-kubernetes-preserve-unknown-fields"] = true;
      out.nullable = true;
    } else throw new Error(`${path}: a node without a type`);
  }
  return out;
}

/** What the webhook writes on each policy object (src/admission/cluster-policies.ts): a Ready condition. */
const policyStatus: Schema = {
  type: "object",
  description: "Written by the Skiff webhook: whether the policy compiled and loaded.",
  properties: {
    observedGeneration: { type: "integer", format: "int64", description: "The generation the conditions describe." },
    conditions: {
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
      items: {
        type: "object",
        required: ["type", "status"],
        properties: {
          type: { type: "string", description: "Ready: the policy loaded and applies." },
          status: { type: "string", enum: ["True", "False", "Unknown"] },
          reason: { type: "string", description: "Loaded, or Invalid." },
          message: { type: "string", description: "policy loaded, or every load error with its field path." },
          lastTransitionTime: { type: "string", format: "date-time" },
          observedGeneration: { type: "integer", format: "int64" },
        },
      },
    },
  },
};

const readyCondition = '.status.conditions[?(@.type=="Ready")]';
const policyPrinterColumns = [
  { name: "Ready", type: "string", jsonPath: `${readyCondition}.status` },
  { name: "Reason", type: "string", jsonPath: `${readyCondition}.reason`, priority: 1 },
  { name: "Precedence", type: "integer", jsonPath: ".spec.precedence" },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

const policyKindDefinitions = [
  {
    kind: "BackupPolicy",
    plural: "backuppolicies",
    scope: "Namespaced",
    description: "An admission policy for requests in its own namespace (docs/policies.md).",
  },
  {
    kind: "ClusterBackupPolicy",
    plural: "clusterbackuppolicies",
    scope: "Cluster",
    description: "An admission policy for every namespace and for cluster-scoped objects (docs/policies.md).",
  },
] as const;

export function policyCrd(def: (typeof policyKindDefinitions)[number]): Schema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${policyGroup}`, labels: { "app.kubernetes.io/part-of": "skiff" } },
    spec: {
      group: policyGroup,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        categories: ["skiff"],
      },
      scope: def.scope,
      versions: [
        {
          name: policyVersion,
          served: true,
          storage: true,
          additionalPrinterColumns: policyPrinterColumns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string" },
                kind: { type: "string" },
                // The apiserver allows no restrictions on metadata beyond name; it checks names itself.
                metadata: { type: "object" },
                spec: toStructural(policySchema.properties.spec, "spec"),
                status: policyStatus,
              },
            },
          },
          subresources: { status: {} },
        },
      ],
    },
  };
}

/** File name (under manifests/crds/) -> YAML text for every CRD Skiff ships: velero.io and policy.skiff.dev. */
export function generateAllCrdFiles(): Map<string, string> {
  const files = generateCrdFiles();
  const header = "# Generated by `npm run gen:crds` from src/api/policy/schema.ts. Do not edit.\n";
  for (const def of policyKindDefinitions) {
    files.set(`${policyGroup}_${def.plural}.yaml`, header + stringify(policyCrd(def), { lineWidth: 0 }));
  }
  return files;
}

/** Prefixes of the generated files: anything else in manifests/crds/ is left alone. */
const generatedPrefixes = ["velero.io_", `${policyGroup}_`];

async function main(): Promise<number> {
  const dir = fileURLToPath(new URL("../manifests/crds/", import.meta.url));
  const check = process.argv.includes("--check");
  const files = generateAllCrdFiles();
  await mkdir(dir, { recursive: true });
  const existing = (await readdir(dir)).filter((name) => generatedPrefixes.some((p) => name.startsWith(p)));
  let stale = 0;
  for (const [name, text] of files) {
    const current = await readFile(join(dir, name), "utf8").catch(() => undefined);
    if (current === text) continue;
    stale++;
    if (check) console.error(`${join(dir, name)} is out of date`);
    else await writeFile(join(dir, name), text);
  }
  for (const name of existing.filter((n) => !files.has(n))) {
    stale++;
    if (check) console.error(`${join(dir, name)} is not generated any more`);
    else await rm(join(dir, name));
  }
  console.log(`${files.size} CRDs, ${stale} ${check ? "out of date" : "written or removed"}`);
  return check && stale > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main());
