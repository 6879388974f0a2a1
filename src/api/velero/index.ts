/** The velero.io/v1 and velero.io/v2alpha1 kinds: schemas, TypeScript types and CRD generation. */
export * from "./backup.ts";
export * from "./crds.ts";
export * from "./data-mover.ts";
export * from "./kind.ts";
export * from "./pod-volume.ts";
export * from "./requests.ts";
export * from "./restore.ts";
export * from "./storage.ts";
