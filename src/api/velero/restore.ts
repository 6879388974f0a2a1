/** velero.io/v1 Restore. */

import { hookResourceSelector, hookStatus, namespaceAndResourceFilter } from "./backup-restore-fields.ts";
import { ageColumn, type KindDefinition, type VeleroObject } from "./kind.ts";
import {
  anyObject,
  array,
  boolean,
  duration,
  enumOf,
  integer,
  labelSelector,
  mapOf,
  object,
  string,
  strings,
  type TypeOf,
  timestamp,
  typedLocalReference,
} from "./schema.ts";

export const restorePhases = [
  "New",
  "FailedValidation",
  "InProgress",
  "WaitingForPluginOperations",
  "WaitingForPluginOperationsPartiallyFailed",
  "Finalizing",
  "FinalizingPartiallyFailed",
  "Completed",
  "PartiallyFailed",
  "Failed",
] as const;
export type RestorePhase = (typeof restorePhases)[number];

const restoreExecHook = object(
  {
    container: string(),
    command: array(string(), { minItems: 1 }),
    onError: enumOf(["Continue", "Fail"]),
    execTimeout: duration("How long to wait for the command to finish."),
    waitTimeout: duration("How long to wait for the container to be ready."),
    waitForReady: boolean({ nullable: true }),
    maxRetries: integer({ format: "int32" }),
  },
  { required: ["command"] },
);

const restoreHooks = object({
  resources: array(
    object(
      {
        name: string(),
        ...hookResourceSelector,
        postHooks: array(
          object({
            exec: restoreExecHook,
            init: object({ initContainers: array(anyObject("A corev1.Container.")), timeout: duration() }),
          }),
        ),
      },
      { required: ["name"] },
    ),
  ),
});

export const restoreSpecSchema = object({
  backupName: string({ description: "The backup to restore from." }),
  scheduleName: string({ description: "Restore the most recent successful backup of this schedule." }),
  ...namespaceAndResourceFilter,
  namespaceMapping: mapOf(string(), { description: "Source namespace -> target namespace." }),
  labelSelector: labelSelector(),
  orLabelSelectors: array(labelSelector(), { nullable: true }),
  restorePVs: boolean({ nullable: true }),
  restoreStatus: object({ includedResources: strings(), excludedResources: strings() }, { nullable: true }),
  preserveNodePorts: boolean({ nullable: true }),
  includeClusterResources: boolean({ nullable: true }),
  hooks: restoreHooks,
  existingResourcePolicy: enumOf(["none", "update"]),
  itemOperationTimeout: duration(),
  resourceModifier: typedLocalReference("ConfigMap holding resource modifier rules."),
  uploaderConfig: object(
    { writeSparseFiles: boolean({ nullable: true }), parallelFilesDownload: integer({ format: "int32" }) },
    { nullable: true },
  ),
});

export const restoreStatusSchema = object({
  phase: enumOf(restorePhases),
  validationErrors: strings(),
  warnings: integer({ format: "int32" }),
  errors: integer({ format: "int32" }),
  failureReason: string(),
  startTimestamp: timestamp(),
  completionTimestamp: timestamp(),
  progress: object(
    { totalItems: integer({ format: "int32" }), itemsRestored: integer({ format: "int32" }) },
    { nullable: true },
  ),
  restoreItemOperationsAttempted: integer({ format: "int32" }),
  restoreItemOperationsCompleted: integer({ format: "int32" }),
  restoreItemOperationsFailed: integer({ format: "int32" }),
  hookStatus,
});

export type RestoreSpec = TypeOf<typeof restoreSpecSchema>;
export type RestoreStatus = TypeOf<typeof restoreStatusSchema>;
export type Restore = VeleroObject<"Restore", "v1", RestoreSpec, RestoreStatus>;

export const restoreKind: KindDefinition = {
  kind: "Restore",
  plural: "restores",
  singular: "restore",
  version: "v1",
  description: "A Velero restore request and its result.",
  spec: restoreSpecSchema,
  status: restoreStatusSchema,
  printerColumns: [
    { name: "Backup", type: "string", jsonPath: ".spec.backupName" },
    { name: "Status", type: "string", jsonPath: ".status.phase", description: "Restore phase" },
    { name: "Errors", type: "integer", jsonPath: ".status.errors" },
    { name: "Warnings", type: "integer", jsonPath: ".status.warnings" },
    { name: "Started", type: "date", jsonPath: ".status.startTimestamp" },
    ageColumn,
  ],
};
