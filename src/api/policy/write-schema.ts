/** Writes policies/schema/backup-policy.schema.json from the schema object (the one source). */
import { writeFileSync } from "node:fs";
import { policySchema } from "./schema.ts";

export const policySchemaFile = new URL("../../../policies/schema/backup-policy.schema.json", import.meta.url);

export function renderPolicySchema(): string {
  return `${JSON.stringify(policySchema, null, 2)}\n`;
}

if (import.meta.main) writeFileSync(policySchemaFile, renderPolicySchema());
