/** What every velero.io kind declares, and the object shape shared by all of them. */
import type { Schema } from "./schema.ts";

export const group = "velero.io";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  version: "v1" | "v2alpha1";
  shortNames?: string[];
  description: string;
  spec: Schema<unknown>;
  status: Schema<unknown>;
  printerColumns: PrinterColumn[];
}

/** The ObjectMeta fields Skiff reads and writes; the apiserver fills in the rest. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Array<{
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }>;
}

export interface VeleroObject<Kind extends string, Version extends string, Spec, Status> {
  apiVersion: `${typeof group}/${Version}`;
  kind: Kind;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
}

export const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };
