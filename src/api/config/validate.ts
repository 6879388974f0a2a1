/**
 * Validating the data of Skiff's ConfigMaps: JSON syntax (with the position), the schema, quantities, and
 * request ≤ limit. Returns problems as values; pure.
 */
import { validateAgainst } from "../../policy/json-schema.ts";
import { compareQuantities, isQuantity, parseQuantity, type Quantity } from "./quantity.ts";
import {
  backupRepositoryConfigSchema,
  type ConfigType,
  nodeAgentConfigSchema,
  repositoryMaintenanceConfigSchema,
  repositoryTypes,
} from "./schemas.ts";

export interface ConfigProblem {
  severity: "error" | "warning";
  /** "data[config.json]/podResources/cpuRequest" */
  path: string;
  message: string;
}

export function validateConfigMapData(type: ConfigType, data: Record<string, unknown>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const keys = Object.keys(data).sort();
  if (type === "node-agent" && keys.length !== 1) {
    problems.push({
      severity: "error",
      path: "data",
      message: `must have exactly one key holding the JSON config (has ${keys.length})`,
    });
  }
  for (const key of keys) {
    const where = `data[${key}]`;
    if (type === "repository-maintenance" && key !== "global" && !/^.+-.+-.+$/.test(key)) {
      problems.push({
        severity: "error",
        path: where,
        message: 'key must be "global" or "<volumeNamespace>-<bslName>-<repositoryType>"',
      });
    }
    if (type === "backup-repository" && !(repositoryTypes as readonly string[]).includes(key)) {
      problems.push({
        severity: "error",
        path: where,
        message: `key must be a repository type (${repositoryTypes.join(", ")})`,
      });
    }
    const text = data[key];
    if (typeof text !== "string") {
      problems.push({ severity: "error", path: where, message: "value must be a string of JSON" });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      problems.push({ severity: "error", path: where, message: `invalid JSON: ${(err as Error).message}` });
      continue;
    }
    problems.push(...validatePayload(type, value, where));
  }
  return problems;
}

export function validatePayload(type: ConfigType, value: unknown, where = ""): ConfigProblem[] {
  const schema =
    type === "node-agent"
      ? nodeAgentConfigSchema
      : type === "repository-maintenance"
        ? repositoryMaintenanceConfigSchema
        : backupRepositoryConfigSchema;
  const problems: ConfigProblem[] = validateAgainst(schema, value).map((p) => ({
    severity: "error",
    path: `${where}${p.path}`,
    message: p.message,
  }));
  if (problems.length > 0) return problems;
  const config = value as Record<string, unknown>;
  if (config.podResources)
    problems.push(...checkPodResources(config.podResources as Record<string, string>, `${where}/podResources`));
  if (type === "node-agent") {
    for (const [cls, rule] of Object.entries(
      (config.backupPVC ?? {}) as Record<string, { readOnly?: boolean; spcNoRelabeling?: boolean }>,
    )) {
      if (rule.spcNoRelabeling && !rule.readOnly) {
        problems.push({
          severity: "warning",
          path: `${where}/backupPVC/${cls}/spcNoRelabeling`,
          message: "has no effect unless readOnly is true",
        });
      }
    }
    const affinity = (config.loadAffinity ?? []) as unknown[];
    if (affinity.length > 1) {
      problems.push({ severity: "warning", path: `${where}/loadAffinity`, message: "only the first entry is used" });
    }
  }
  return problems;
}

function checkPodResources(resources: Record<string, string>, where: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const parsed: Record<string, Quantity> = {};
  for (const [field, text] of Object.entries(resources)) {
    const q = parseQuantity(text);
    if (isQuantity(q)) parsed[field] = q;
    else problems.push({ severity: "error", path: `${where}/${field}`, message: q.error });
  }
  for (const [request, limit] of [
    ["cpuRequest", "cpuLimit"],
    ["memoryRequest", "memoryLimit"],
  ] as const) {
    const r = parsed[request];
    const l = parsed[limit];
    // "0" means unbounded.
    if (r && l && l.numerator !== 0n && compareQuantities(r, l) > 0) {
      problems.push({
        severity: "error",
        path: `${where}/${request}`,
        message: `${r.text} is greater than ${limit} ${l.text}`,
      });
    }
  }
  return problems;
}
