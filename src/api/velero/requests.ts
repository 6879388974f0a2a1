/** velero.io/v1 request kinds: DeleteBackupRequest, DownloadRequest, ServerStatusRequest. */
import { ageColumn, type KindDefinition, type VeleroObject } from "./kind.ts";
import { array, enumOf, object, string, strings, type TypeOf, timestamp } from "./schema.ts";

export const deleteBackupRequestPhases = ["New", "InProgress", "Processed"] as const;

export const deleteBackupRequestSpecSchema = object({ backupName: string() }, { required: ["backupName"] });
export const deleteBackupRequestStatusSchema = object({
  phase: enumOf(deleteBackupRequestPhases),
  errors: strings(),
});

export type DeleteBackupRequestSpec = TypeOf<typeof deleteBackupRequestSpecSchema>;
export type DeleteBackupRequestStatus = TypeOf<typeof deleteBackupRequestStatusSchema>;
export type DeleteBackupRequest = VeleroObject<
  "DeleteBackupRequest",
  "v1",
  DeleteBackupRequestSpec,
  DeleteBackupRequestStatus
>;

export const deleteBackupRequestKind: KindDefinition = {
  kind: "DeleteBackupRequest",
  plural: "deletebackuprequests",
  singular: "deletebackuprequest",
  version: "v1",
  description: "A request to delete a backup and everything stored for it.",
  spec: deleteBackupRequestSpecSchema,
  status: deleteBackupRequestStatusSchema,
  printerColumns: [
    { name: "BackupName", type: "string", jsonPath: ".spec.backupName", description: "The backup to delete" },
    { name: "Status", type: "string", jsonPath: ".status.phase", description: "The status of the request" },
  ],
};

export const downloadTargetKinds = [
  "BackupLog",
  "BackupContents",
  "BackupVolumeSnapshots",
  "BackupItemOperations",
  "BackupResourceList",
  "BackupResults",
  "RestoreLog",
  "RestoreResults",
  "RestoreResourceList",
  "RestoreItemOperations",
  "CSIBackupVolumeSnapshots",
  "CSIBackupVolumeSnapshotContents",
  "BackupVolumeInfos",
  "RestoreVolumeInfo",
] as const;
export type DownloadTargetKind = (typeof downloadTargetKinds)[number];
export const downloadRequestPhases = ["New", "Processed"] as const;

export const downloadRequestSpecSchema = object(
  {
    target: object({ kind: enumOf(downloadTargetKinds), name: string() }, { required: ["kind", "name"] }),
  },
  { required: ["target"] },
);
export const downloadRequestStatusSchema = object({
  phase: enumOf(downloadRequestPhases),
  downloadURL: string({ description: "A pre-signed URL for the requested file." }),
  expiration: timestamp("When the request (and its URL) expires."),
});

export type DownloadRequestSpec = TypeOf<typeof downloadRequestSpecSchema>;
export type DownloadRequestStatus = TypeOf<typeof downloadRequestStatusSchema>;
export type DownloadRequest = VeleroObject<"DownloadRequest", "v1", DownloadRequestSpec, DownloadRequestStatus>;

export const downloadRequestKind: KindDefinition = {
  kind: "DownloadRequest",
  plural: "downloadrequests",
  singular: "downloadrequest",
  version: "v1",
  description: "A request for a pre-signed URL to a file stored for a backup or restore.",
  spec: downloadRequestSpecSchema,
  status: downloadRequestStatusSchema,
  printerColumns: [],
};

export const serverStatusRequestPhases = ["New", "Processed"] as const;

export const serverStatusRequestSpecSchema = object({});
export const serverStatusRequestStatusSchema = object({
  phase: enumOf(serverStatusRequestPhases),
  processedTimestamp: timestamp(),
  serverVersion: string(),
  plugins: array(object({ name: string(), kind: string() }, { required: ["kind", "name"] }), { nullable: true }),
});

export type ServerStatusRequestSpec = TypeOf<typeof serverStatusRequestSpecSchema>;
export type ServerStatusRequestStatus = TypeOf<typeof serverStatusRequestStatusSchema>;
export type ServerStatusRequest = VeleroObject<
  "ServerStatusRequest",
  "v1",
  ServerStatusRequestSpec,
  ServerStatusRequestStatus
>;

export const serverStatusRequestKind: KindDefinition = {
  kind: "ServerStatusRequest",
  plural: "serverstatusrequests",
  singular: "serverstatusrequest",
  version: "v1",
  shortNames: ["ssr"],
  description: "A request for the server's version and plugins.",
  spec: serverStatusRequestSpecSchema,
  status: serverStatusRequestStatusSchema,
  printerColumns: [ageColumn],
};
