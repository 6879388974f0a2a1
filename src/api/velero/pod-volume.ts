/** velero.io/v1 PodVolumeBackup and PodVolumeRestore (file-system backup of a pod's volume). */
import { ageColumn, type KindDefinition, type VeleroObject } from "./kind.ts";
import { enumOf, integer, object, objectReference, string, stringMap, type TypeOf, timestamp } from "./schema.ts";

export const podVolumePhases = ["New", "InProgress", "Completed", "Failed"] as const;
export type PodVolumePhase = (typeof podVolumePhases)[number];
export const uploaderTypes = ["kopia", "restic"] as const;

const progress = object({ totalBytes: integer(), bytesDone: integer() });

export const podVolumeBackupSpecSchema = object(
  {
    node: string({ description: "The node the pod runs on." }),
    pod: objectReference("The pod whose volume is backed up."),
    volume: string({ description: "The volume's name in the pod spec." }),
    backupStorageLocation: string(),
    repoIdentifier: string(),
    uploaderType: enumOf(uploaderTypes),
    tags: stringMap(),
    uploaderSettings: stringMap(),
  },
  { required: ["backupStorageLocation", "node", "pod", "repoIdentifier", "volume"] },
);

export const podVolumeBackupStatusSchema = object({
  phase: enumOf(podVolumePhases),
  path: string(),
  snapshotID: string(),
  message: string(),
  startTimestamp: timestamp(),
  completionTimestamp: timestamp(),
  progress,
});

export type PodVolumeBackupSpec = TypeOf<typeof podVolumeBackupSpecSchema>;
export type PodVolumeBackupStatus = TypeOf<typeof podVolumeBackupStatusSchema>;
export type PodVolumeBackup = VeleroObject<"PodVolumeBackup", "v1", PodVolumeBackupSpec, PodVolumeBackupStatus>;

export const podVolumeBackupKind: KindDefinition = {
  kind: "PodVolumeBackup",
  plural: "podvolumebackups",
  singular: "podvolumebackup",
  version: "v1",
  description: "A file-system backup of one volume of one pod.",
  spec: podVolumeBackupSpecSchema,
  status: podVolumeBackupStatusSchema,
  printerColumns: [
    { name: "Status", type: "string", jsonPath: ".status.phase" },
    { name: "Created", type: "date", jsonPath: ".status.startTimestamp" },
    { name: "Namespace", type: "string", jsonPath: ".spec.pod.namespace" },
    { name: "Pod", type: "string", jsonPath: ".spec.pod.name" },
    { name: "Volume", type: "string", jsonPath: ".spec.volume" },
    { name: "Uploader Type", type: "string", jsonPath: ".spec.uploaderType" },
    { name: "Storage Location", type: "string", jsonPath: ".spec.backupStorageLocation" },
    ageColumn,
  ],
};

export const podVolumeRestoreSpecSchema = object(
  {
    pod: objectReference("The pod whose volume is restored."),
    volume: string(),
    backupStorageLocation: string(),
    repoIdentifier: string(),
    uploaderType: enumOf(uploaderTypes),
    snapshotID: string(),
    sourceNamespace: string(),
    uploaderSettings: stringMap(),
  },
  { required: ["backupStorageLocation", "pod", "repoIdentifier", "snapshotID", "sourceNamespace", "volume"] },
);

export const podVolumeRestoreStatusSchema = object({
  phase: enumOf(podVolumePhases),
  message: string(),
  startTimestamp: timestamp(),
  completionTimestamp: timestamp(),
  progress,
});

export type PodVolumeRestoreSpec = TypeOf<typeof podVolumeRestoreSpecSchema>;
export type PodVolumeRestoreStatus = TypeOf<typeof podVolumeRestoreStatusSchema>;
export type PodVolumeRestore = VeleroObject<"PodVolumeRestore", "v1", PodVolumeRestoreSpec, PodVolumeRestoreStatus>;

export const podVolumeRestoreKind: KindDefinition = {
  kind: "PodVolumeRestore",
  plural: "podvolumerestores",
  singular: "podvolumerestore",
  version: "v1",
  description: "A file-system restore of one volume of one pod.",
  spec: podVolumeRestoreSpecSchema,
  status: podVolumeRestoreStatusSchema,
  printerColumns: [
    { name: "Namespace", type: "string", jsonPath: ".spec.pod.namespace" },
    { name: "Pod", type: "string", jsonPath: ".spec.pod.name" },
    { name: "Uploader Type", type: "string", jsonPath: ".spec.uploaderType" },
    { name: "Volume", type: "string", jsonPath: ".spec.volume" },
    { name: "Status", type: "string", jsonPath: ".status.phase" },
    { name: "TotalBytes", type: "integer", jsonPath: ".status.progress.totalBytes" },
    { name: "BytesDone", type: "integer", jsonPath: ".status.progress.bytesDone" },
    ageColumn,
  ],
};
