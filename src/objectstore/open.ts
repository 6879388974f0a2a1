/**
 * Opens an ObjectStore from a location string: `file:///abs/path` or a plain path for the filesystem backend,
 * `s3://bucket/prefix?region=...&endpoint=...` for S3.
 */
import { fileURLToPath } from "node:url";
import { openFilesystemStore } from "./filesystem.ts";
import type { ObjectStore } from "./types.ts";

export interface OpenObjectStoreOptions {
  /** File with S3 credentials (AWS shared-credentials format). */
  credentialsFile?: string;
  /** Create a missing filesystem directory (used by repository init). */
  create?: boolean;
  /** Filesystem only: write data packs with O_DIRECT where the filesystem allows it (default true). */
  directWrites?: boolean;
}

export async function openObjectStore(location: string, options: OpenObjectStoreOptions = {}): Promise<ObjectStore> {
  if (location === "") throw new Error("repository location is empty");
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  const filesystemOptions = { create: options.create ?? false, directWrites: options.directWrites ?? true };
  if (scheme === undefined) return openFilesystemStore(location, filesystemOptions);
  if (scheme === "file") return openFilesystemStore(fileURLToPath(location), filesystemOptions);
  if (scheme === "s3") {
    const url = new URL(location);
    if (url.hostname === "") throw new Error(`repository location '${location}' names no bucket`);
    // Loaded on demand: the AWS SDK is large and filesystem repositories never need it.
    const s3 = await import("./s3.ts");
    const s3Options: { credentialsFile?: string } = {};
    if (options.credentialsFile !== undefined) s3Options.credentialsFile = options.credentialsFile;
    return s3.openS3Store(url, s3Options);
  }
  throw new Error(`unsupported repository location scheme '${scheme}://' (use a path, file:// or s3://)`);
}
