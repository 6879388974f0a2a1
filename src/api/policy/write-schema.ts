/**
 * Writes the published JSON Schemas (policies/schema/*.schema.json) from the schema objects in code, the one
 * source: `node src/api/policy/write-schema.ts`.
 */
import { writeFileSync } from "node:fs";
import {
  backupRepositoryConfigSchema,
  nodeAgentConfigSchema,
  repositoryMaintenanceConfigSchema,
} from "../config/schemas.ts";
import { policySchema } from "./schema.ts";

const dir = new URL("../../../policies/schema/", import.meta.url);

export const publishedSchemas: Record<string, object> = {
  "backup-policy.schema.json": policySchema,
  "node-agent-config.schema.json": nodeAgentConfigSchema,
  "repository-maintenance-config.schema.json": repositoryMaintenanceConfigSchema,
  "backup-repository-config.schema.json": backupRepositoryConfigSchema,
};

export function schemaFile(name: string): URL {
  return new URL(name, dir);
}

export function renderSchema(schema: object): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (import.meta.main) {
  for (const [name, schema] of Object.entries(publishedSchemas)) writeFileSync(schemaFile(name), renderSchema(schema));
}
