/** velero.io/v2alpha1 DataUpload and DataDownload (the CSI snapshot data mover). */
import { ageColumn, type KindDefinition, type PrinterColumn, type VeleroObject } from "./kind.ts";
import { boolean, duration, enumOf, integer, mapOf, object, string, type TypeOf, timestamp } from "./schema.ts";

export const dataMoverPhases = [
  "New",
  "Accepted",
  "Prepared",
  "InProgress",
  "Canceling",
  "Canceled",
  "Completed",
  "Failed",
] as const;
export type DataMoverPhase = (typeof dataMoverPhases)[number];
export const terminalDataMoverPhases: readonly DataMoverPhase[] = ["Completed", "Failed", "Canceled"];
export const nodeOSes = ["auto", "linux", "windows"] as const;

const progress = object({ totalBytes: integer(), bytesDone: integer() });

const common = {
  backupStorageLocation: string({ description: "The BackupStorageLocation holding the repository." }),
  datamover: string({ description: 'Empty or "velero" selects the built-in data mover.' }),
  dataMoverConfig: mapOf(string(), {
    nullable: true,
    description: "Settings for the data mover, e.g. ParallelFilesUpload, WriteSparseFiles.",
  }),
  cancel: boolean({ description: "Set to true to ask the data mover to stop." }),
  operationTimeout: duration("Limit for the operations around the data movement (exposing, cleanup)."),
};

const statusCommon = {
  phase: enumOf(dataMoverPhases),
  message: string(),
  startTimestamp: timestamp(),
  completionTimestamp: timestamp(),
  progress,
  node: string({ description: "The node where the data path runs." }),
  nodeOS: enumOf(nodeOSes),
  acceptedByNode: string(),
  acceptedTimestamp: timestamp(),
};

export const dataUploadSpecSchema = object(
  {
    snapshotType: enumOf(["CSI"]),
    csiSnapshot: object(
      { volumeSnapshot: string(), storageClass: string(), snapshotClass: string() },
      { required: ["storageClass", "volumeSnapshot"], nullable: true },
    ),
    sourcePVC: string(),
    sourceNamespace: string(),
    ...common,
  },
  { required: ["backupStorageLocation", "operationTimeout", "snapshotType", "sourceNamespace", "sourcePVC"] },
);

export const dataUploadStatusSchema = object({
  ...statusCommon,
  path: string({ description: "The path of the volume data inside the snapshot." }),
  snapshotID: string(),
  dataMoverResult: mapOf(string(), { nullable: true }),
});

export type DataUploadSpec = TypeOf<typeof dataUploadSpecSchema>;
export type DataUploadStatus = TypeOf<typeof dataUploadStatusSchema>;
export type DataUpload = VeleroObject<"DataUpload", "v2alpha1", DataUploadSpec, DataUploadStatus>;

const columns = (kind: string): PrinterColumn[] => [
  { name: "Status", type: "string", jsonPath: ".status.phase", description: `${kind} status such as New/InProgress` },
  { name: "Started", type: "date", jsonPath: ".status.startTimestamp", description: "Time the data path started" },
  { name: "Bytes Done", type: "integer", format: "int64", jsonPath: ".status.progress.bytesDone" },
  { name: "Total Bytes", type: "integer", format: "int64", jsonPath: ".status.progress.totalBytes" },
  { name: "Storage Location", type: "string", jsonPath: ".spec.backupStorageLocation" },
  ageColumn,
  { name: "Node", type: "string", jsonPath: ".status.node", description: "Node the data path runs on" },
];

export const dataUploadKind: KindDefinition = {
  kind: "DataUpload",
  plural: "datauploads",
  singular: "dataupload",
  version: "v2alpha1",
  description: "Moves the data of one CSI volume snapshot into the backup repository.",
  spec: dataUploadSpecSchema,
  status: dataUploadStatusSchema,
  printerColumns: columns("DataUpload"),
};

export const dataDownloadSpecSchema = object(
  {
    targetVolume: object(
      { pvc: string(), pv: string(), namespace: string() },
      { required: ["namespace", "pv", "pvc"] },
    ),
    snapshotID: string(),
    sourceNamespace: string(),
    nodeOS: enumOf(nodeOSes, { description: "OS of the node the restored volume is used on." }),
    ...common,
  },
  { required: ["backupStorageLocation", "operationTimeout", "snapshotID", "sourceNamespace", "targetVolume"] },
);

const { nodeOS: _uploadOnly, ...downloadStatus } = statusCommon;
export const dataDownloadStatusSchema = object(downloadStatus);

export type DataDownloadSpec = TypeOf<typeof dataDownloadSpecSchema>;
export type DataDownloadStatus = TypeOf<typeof dataDownloadStatusSchema>;
export type DataDownload = VeleroObject<"DataDownload", "v2alpha1", DataDownloadSpec, DataDownloadStatus>;

export const dataDownloadKind: KindDefinition = {
  kind: "DataDownload",
  plural: "datadownloads",
  singular: "datadownload",
  version: "v2alpha1",
  description: "Restores one volume from the backup repository.",
  spec: dataDownloadSpecSchema,
  status: dataDownloadStatusSchema,
  printerColumns: columns("DataDownload"),
};
