/**
 * JSON Schemas of the ConfigMap payloads Skiff (and Velero 1.15) read: the node-agent config, the repository
 * maintenance job config and the backup repository config. Field meanings: docs/policies.md. Upstream falls back
 * to defaults on a bad value; Skiff's admission policy rejects it instead, with these schemas.
 */
import { labelSelectorSchema } from "../label-selector-schema.ts";

const quantity = { type: "string", minLength: 1, maxLength: 64 } as const;

export const podResourcesSchema = {
  type: "object",
  additionalProperties: false,
  properties: { cpuRequest: quantity, memoryRequest: quantity, cpuLimit: quantity, memoryLimit: quantity },
} as const;

const loadAffinity = {
  type: "array",
  items: {
    type: "object",
    additionalProperties: false,
    required: ["nodeSelector"],
    properties: { nodeSelector: labelSelectorSchema, storageClass: { type: "string" } },
  },
} as const;

export const nodeAgentConfigSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "node-agent ConfigMap payload",
  type: "object",
  additionalProperties: false,
  properties: {
    loadConcurrency: {
      type: "object",
      additionalProperties: false,
      properties: {
        globalConfig: { type: "integer" },
        perNodeConfig: {
          type: "array",
          items: {
            type: "object",
            additionalProperties: false,
            required: ["nodeSelector", "number"],
            properties: { nodeSelector: labelSelectorSchema, number: { type: "integer" } },
          },
        },
      },
    },
    loadAffinity,
    backupPVC: {
      type: "object",
      additionalProperties: {
        type: "object",
        additionalProperties: false,
        properties: {
          storageClass: { type: "string" },
          readOnly: { type: "boolean" },
          spcNoRelabeling: { type: "boolean" },
        },
      },
    },
    restorePVC: {
      type: "object",
      additionalProperties: false,
      properties: { ignoreDelayBinding: { type: "boolean" } },
    },
    podResources: podResourcesSchema,
    priorityClassName: { type: "string" },
  },
} as const;

export const repositoryMaintenanceConfigSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "repository maintenance job ConfigMap payload (one per key: global or <namespace>-<bsl>-<repoType>)",
  type: "object",
  additionalProperties: false,
  properties: {
    loadAffinity,
    podResources: podResourcesSchema,
    keepLatestMaintenanceJobs: { type: "integer", minimum: 0 },
    priorityClassName: { type: "string" },
  },
} as const;

export const backupRepositoryConfigSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "backup repository ConfigMap payload (one per repository type key)",
  type: "object",
  additionalProperties: false,
  properties: {
    cacheLimitMB: { type: "integer", minimum: 1 },
    fullMaintenanceInterval: { enum: ["normalGC", "fastGC", "eagerGC"] },
  },
} as const;

export const configTypes = ["node-agent", "repository-maintenance", "backup-repository"] as const;
export type ConfigType = (typeof configTypes)[number];

/** The label that marks a ConfigMap for validation, and its values. */
export const configTypeLabel = "skiff.dev/config-type";
export const repositoryTypes = ["kopia", "restic", "skiff"] as const;
