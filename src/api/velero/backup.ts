/** velero.io/v1 Backup and Schedule (a Schedule carries a Backup spec as its template). */

import { hookResourceSelector, hookStatus } from "./backup-restore-fields.ts";
import { ageColumn, type KindDefinition, type VeleroObject } from "./kind.ts";
import {
  array,
  boolean,
  duration,
  enumOf,
  integer,
  labelSelector,
  mapOf,
  object,
  string,
  stringMap,
  strings,
  type TypeOf,
  timestamp,
  typedLocalReference,
} from "./schema.ts";

export const backupPhases = [
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
  "Deleting",
] as const;
export type BackupPhase = (typeof backupPhases)[number];

const execHook = object(
  {
    container: string({ description: "Container to run the command in; defaults to the pod's first container." }),
    command: array(string(), { description: "Command and arguments to execute.", minItems: 1 }),
    onError: enumOf(["Continue", "Fail"]),
    timeout: duration("How long to wait for the command to finish."),
  },
  { required: ["command"] },
);

const backupHooks = object({
  resources: array(
    object(
      {
        name: string(),
        ...hookResourceSelector,
        pre: array(object({ exec: execHook }, { required: ["exec"] })),
        post: array(object({ exec: execHook }, { required: ["exec"] })),
      },
      { required: ["name"] },
    ),
  ),
});

const includeExclude = {
  includedNamespaces: strings("Namespaces to include; empty or * means all."),
  excludedNamespaces: strings("Namespaces to exclude."),
  includedResources: strings("Resources to include; empty or * means all."),
  excludedResources: strings("Resources to exclude."),
  includedClusterScopedResources: strings(),
  excludedClusterScopedResources: strings(),
  includedNamespaceScopedResources: strings(),
  excludedNamespaceScopedResources: strings(),
};

export const backupSpecSchema = object({
  metadata: object({ labels: stringMap() }),
  ...includeExclude,
  labelSelector: labelSelector("Only objects matching this selector are backed up."),
  orLabelSelectors: array(labelSelector(), { nullable: true }),
  snapshotVolumes: boolean({ nullable: true }),
  ttl: duration("How long the backup is kept before it is garbage-collected (default 720h)."),
  includeClusterResources: boolean({ nullable: true }),
  hooks: backupHooks,
  storageLocation: string({ description: "Name of the BackupStorageLocation to store the backup in." }),
  volumeSnapshotLocations: strings(),
  defaultVolumesToRestic: boolean({ nullable: true, description: "Deprecated: use defaultVolumesToFsBackup." }),
  defaultVolumesToFsBackup: boolean({ nullable: true }),
  orderedResources: mapOf(string(), { nullable: true, description: "resource -> ordered list of ns/name." }),
  csiSnapshotTimeout: duration(),
  itemOperationTimeout: duration(),
  resourcePolicy: typedLocalReference("ConfigMap holding the volume policies."),
  snapshotMoveData: boolean({ nullable: true }),
  datamover: string(),
  uploaderConfig: object({ parallelFilesUpload: integer({ format: "int32" }) }, { nullable: true }),
});

export const backupStatusSchema = object({
  version: integer({ format: "int32" }),
  formatVersion: string(),
  expiration: timestamp(),
  phase: enumOf(backupPhases),
  validationErrors: strings(),
  startTimestamp: timestamp(),
  completionTimestamp: timestamp(),
  volumeSnapshotsAttempted: integer({ format: "int32" }),
  volumeSnapshotsCompleted: integer({ format: "int32" }),
  failureReason: string(),
  warnings: integer({ format: "int32" }),
  errors: integer({ format: "int32" }),
  progress: object(
    { totalItems: integer({ format: "int32" }), itemsBackedUp: integer({ format: "int32" }) },
    { nullable: true },
  ),
  csiVolumeSnapshotsAttempted: integer({ format: "int32" }),
  csiVolumeSnapshotsCompleted: integer({ format: "int32" }),
  backupItemOperationsAttempted: integer({ format: "int32" }),
  backupItemOperationsCompleted: integer({ format: "int32" }),
  backupItemOperationsFailed: integer({ format: "int32" }),
  hookStatus,
});

export type BackupSpec = TypeOf<typeof backupSpecSchema>;
export type BackupStatus = TypeOf<typeof backupStatusSchema>;
export type Backup = VeleroObject<"Backup", "v1", BackupSpec, BackupStatus>;

export const backupKind: KindDefinition = {
  kind: "Backup",
  plural: "backups",
  singular: "backup",
  version: "v1",
  description: "A Velero backup request and its result.",
  spec: backupSpecSchema,
  status: backupStatusSchema,
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.phase", description: "Backup phase" },
    { name: "Errors", type: "integer", jsonPath: ".status.errors" },
    { name: "Warnings", type: "integer", jsonPath: ".status.warnings" },
    { name: "Started", type: "date", jsonPath: ".status.startTimestamp" },
    { name: "Expires", type: "date", jsonPath: ".status.expiration" },
    { name: "Storage Location", type: "string", jsonPath: ".spec.storageLocation" },
    ageColumn,
  ],
};

export const schedulePhases = ["New", "Enabled", "FailedValidation"] as const;
export type SchedulePhase = (typeof schedulePhases)[number];

export const scheduleSpecSchema = object(
  {
    template: backupSpecSchema,
    schedule: string({ description: "Cron expression for when to run the backup." }),
    useOwnerReferencesInBackup: boolean({ nullable: true }),
    paused: boolean(),
    skipImmediately: boolean({ nullable: true }),
  },
  { required: ["schedule", "template"] },
);

export const scheduleStatusSchema = object({
  phase: enumOf(schedulePhases),
  lastBackup: timestamp(),
  lastSkipped: timestamp(),
  validationErrors: strings(),
});

export type ScheduleSpec = TypeOf<typeof scheduleSpecSchema>;
export type ScheduleStatus = TypeOf<typeof scheduleStatusSchema>;
export type Schedule = VeleroObject<"Schedule", "v1", ScheduleSpec, ScheduleStatus>;

export const scheduleKind: KindDefinition = {
  kind: "Schedule",
  plural: "schedules",
  singular: "schedule",
  version: "v1",
  description: "Backups taken repeatedly on a cron schedule.",
  spec: scheduleSpecSchema,
  status: scheduleStatusSchema,
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.phase", description: "Status of the schedule" },
    { name: "Schedule", type: "string", jsonPath: ".spec.schedule", description: "A cron expression" },
    { name: "LastBackup", type: "date", jsonPath: ".status.lastBackup", description: "Time of the last backup" },
    ageColumn,
    { name: "Paused", type: "boolean", jsonPath: ".spec.paused" },
  ],
};
