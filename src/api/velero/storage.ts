/** velero.io/v1 BackupStorageLocation, VolumeSnapshotLocation and BackupRepository. */
import { ageColumn, type KindDefinition, type VeleroObject } from "./kind.ts";
import {
  boolean,
  duration,
  enumOf,
  object,
  secretKeySelector,
  string,
  stringMap,
  type TypeOf,
  timestamp,
} from "./schema.ts";

export const storageLocationPhases = ["Available", "Unavailable"] as const;
export type StorageLocationPhase = (typeof storageLocationPhases)[number];
export const accessModes = ["ReadWrite", "ReadOnly"] as const;

export const backupStorageLocationSpecSchema = object(
  {
    provider: string({ description: "Object storage provider, e.g. aws." }),
    config: stringMap("Provider-specific settings (region, s3Url, s3ForcePathStyle, ...)."),
    credential: secretKeySelector("Secret key holding the credentials for this location."),
    objectStorage: object(
      {
        bucket: string(),
        prefix: string({ description: "Folder inside the bucket under which everything is stored." }),
        caCert: string({ format: "byte", description: "PEM bundle to trust for the object store endpoint." }),
      },
      { required: ["bucket"] },
    ),
    default: boolean({ description: "Whether this is the default location." }),
    accessMode: enumOf(accessModes),
    backupSyncPeriod: duration("How often to sync backups from object storage; 0 disables the sync."),
    validationFrequency: duration("How often to check that the location is reachable."),
  },
  { required: ["objectStorage", "provider"] },
);

export const backupStorageLocationStatusSchema = object({
  phase: enumOf(storageLocationPhases),
  lastSyncedTime: timestamp(),
  lastSyncedRevision: string({ description: "Deprecated: no longer written." }),
  lastValidationTime: timestamp(),
  message: string(),
  accessMode: enumOf(accessModes, { description: "Deprecated: see spec.accessMode." }),
});

export type BackupStorageLocationSpec = TypeOf<typeof backupStorageLocationSpecSchema>;
export type BackupStorageLocationStatus = TypeOf<typeof backupStorageLocationStatusSchema>;
export type BackupStorageLocation = VeleroObject<
  "BackupStorageLocation",
  "v1",
  BackupStorageLocationSpec,
  BackupStorageLocationStatus
>;

export const backupStorageLocationKind: KindDefinition = {
  kind: "BackupStorageLocation",
  plural: "backupstoragelocations",
  singular: "backupstoragelocation",
  version: "v1",
  shortNames: ["bsl"],
  description: "Where backups are stored: a bucket (and prefix) of an object store.",
  spec: backupStorageLocationSpecSchema,
  status: backupStorageLocationStatusSchema,
  printerColumns: [
    { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Backup Storage Location status" },
    { name: "Last Validated", type: "date", jsonPath: ".status.lastValidationTime" },
    ageColumn,
    { name: "Default", type: "boolean", jsonPath: ".spec.default", description: "Default backup storage location" },
  ],
};

export const volumeSnapshotLocationSpecSchema = object(
  {
    provider: string(),
    config: stringMap(),
    credential: secretKeySelector(),
  },
  { required: ["provider"] },
);

export const volumeSnapshotLocationStatusSchema = object({ phase: enumOf(storageLocationPhases) });

export type VolumeSnapshotLocationSpec = TypeOf<typeof volumeSnapshotLocationSpecSchema>;
export type VolumeSnapshotLocationStatus = TypeOf<typeof volumeSnapshotLocationStatusSchema>;
export type VolumeSnapshotLocation = VeleroObject<
  "VolumeSnapshotLocation",
  "v1",
  VolumeSnapshotLocationSpec,
  VolumeSnapshotLocationStatus
>;

export const volumeSnapshotLocationKind: KindDefinition = {
  kind: "VolumeSnapshotLocation",
  plural: "volumesnapshotlocations",
  singular: "volumesnapshotlocation",
  version: "v1",
  shortNames: ["vsl"],
  description: "Where native volume snapshots are taken (a provider and its settings).",
  spec: volumeSnapshotLocationSpecSchema,
  status: volumeSnapshotLocationStatusSchema,
  printerColumns: [],
};

export const backupRepositoryPhases = ["New", "Ready", "NotReady"] as const;
export type BackupRepositoryPhase = (typeof backupRepositoryPhases)[number];

export const backupRepositorySpecSchema = object(
  {
    volumeNamespace: string({ description: "The namespace whose volumes this repository holds." }),
    backupStorageLocation: string(),
    repositoryType: string({ description: "kopia, restic, or this project's own repository type." }),
    resticIdentifier: string({ description: "The repository's location (named so for compatibility)." }),
    maintenanceFrequency: duration(),
    repositoryConfig: stringMap("Settings from the backup repository ConfigMap, as strings."),
  },
  { required: ["backupStorageLocation", "maintenanceFrequency", "resticIdentifier", "volumeNamespace"] },
);

export const backupRepositoryStatusSchema = object({
  phase: enumOf(backupRepositoryPhases),
  message: string(),
  lastMaintenanceTime: timestamp(),
});

export type BackupRepositorySpec = TypeOf<typeof backupRepositorySpecSchema>;
export type BackupRepositoryStatus = TypeOf<typeof backupRepositoryStatusSchema>;
export type BackupRepository = VeleroObject<"BackupRepository", "v1", BackupRepositorySpec, BackupRepositoryStatus>;

export const backupRepositoryKind: KindDefinition = {
  kind: "BackupRepository",
  plural: "backuprepositories",
  singular: "backuprepository",
  version: "v1",
  description: "A deduplicating repository of volume data on a backup storage location.",
  spec: backupRepositorySpecSchema,
  status: backupRepositoryStatusSchema,
  printerColumns: [ageColumn, { name: "Repository Type", type: "string", jsonPath: ".spec.repositoryType" }],
};
