/**
 * The repository's `config` object: format name and version, chunking and pack parameters, and the master key
 * wrapped by a key derived from the password with scrypt. The parameters are bound to the wrapped key as
 * associated data, so altering them makes the password check fail instead of silently changing the format.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID, scrypt } from "node:crypto";
import type { ObjectStore } from "../objectstore/types.ts";
import { ObjectNotFoundError } from "../objectstore/types.ts";

export const CONFIG_KEY = "config";
export const FORMAT_NAME = "skiff-repository";
export const FORMAT_VERSION = 1;

export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export type Compression = "none" | "zstd";
export const COMPRESSIONS: readonly Compression[] = ["none", "zstd"];

/** Whether new data chunks are compressed in this repository. */
export function compressesData(config: RepositoryConfig): boolean {
  return (config.compression ?? "zstd") === "zstd";
}

export interface KdfParams {
  name: "scrypt";
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

export interface RepositoryConfig {
  format: string;
  version: number;
  id: string;
  createdAt: string;
  chunker: ChunkerParams;
  packSize: number;
  /**
   * How data chunks are stored: "none" (the default, as Velero configures kopia: backups run at the speed of
   * hashing and encryption) or "zstd" (level 1; smaller repositories for about 4 CPU seconds per GiB of
   * compressible data). Absent in repositories made before the field existed, which compress. Metadata (trees,
   * chunk lists, index files, manifests) is always compressed, and readers follow each record's own flag.
   */
  compression?: Compression;
  kdf: KdfParams;
  /** AES-256-GCM of the 64-byte master key: base64 of nonce | ciphertext | tag. */
  masterKey: string;
}

// Hashing starts only after minSize, so a high min:avg ratio keeps the chunker (on the calling thread) cheap.
export const DEFAULT_CHUNKER: ChunkerParams = { minSize: 1536 << 10, avgSize: 2 << 20, maxSize: 4 << 20 };
export const DEFAULT_PACK_SIZE = 16 << 20;
export const DEFAULT_KDF = { N: 1 << 15, r: 8, p: 1 };

export class WrongPasswordError extends Error {
  constructor(store: string) {
    super(`wrong password for the repository at ${store} (or its config object was altered)`);
    this.name = "WrongPasswordError";
  }
}

export class NotARepositoryError extends Error {
  constructor(store: string) {
    super(`no skiff repository at ${store}: object '${CONFIG_KEY}' is missing (run 'skiff repo init' first)`);
    this.name = "NotARepositoryError";
  }
}

export class UnsupportedFormatError extends Error {
  constructor(store: string, found: string) {
    super(
      `the repository at ${store} has format ${found}; this skiff reads ${FORMAT_NAME} version ${FORMAT_VERSION} only`,
    );
    this.name = "UnsupportedFormatError";
  }
}

function deriveKey(password: string, kdf: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      Buffer.from(password, "utf8"),
      Buffer.from(kdf.salt, "base64"),
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + (1 << 20) },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

function boundParameters(config: RepositoryConfig): Buffer {
  const { format, version, id, chunker, packSize, compression } = config;
  // JSON.stringify leaves out an undefined compression, so older configs keep their bound bytes.
  return Buffer.from(JSON.stringify({ format, version, id, chunker, packSize, compression }), "utf8");
}

export interface NewConfigOptions {
  chunker?: ChunkerParams;
  packSize?: number;
  compression?: Compression;
  kdf?: { N: number; r: number; p: number };
  now?: Date;
}

export async function createConfig(
  password: string,
  options: NewConfigOptions = {},
): Promise<{ config: RepositoryConfig; master: Buffer }> {
  if (password === "") throw new Error("the repository password must not be empty");
  const master = randomBytes(64);
  const kdf: KdfParams = { name: "scrypt", ...(options.kdf ?? DEFAULT_KDF), salt: randomBytes(16).toString("base64") };
  const config: RepositoryConfig = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    id: randomUUID(),
    createdAt: (options.now ?? new Date()).toISOString(),
    chunker: options.chunker ?? DEFAULT_CHUNKER,
    packSize: options.packSize ?? DEFAULT_PACK_SIZE,
    compression: options.compression ?? "none",
    kdf,
    masterKey: "",
  };
  config.masterKey = await wrapMasterKey(config, master, password);
  return { config, master };
}

/** The master key sealed under a key derived from `password` with `config.kdf`, bound to the config's parameters. */
async function wrapMasterKey(config: RepositoryConfig, master: Buffer, password: string): Promise<string> {
  const wrapping = await deriveKey(password, config.kdf);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", wrapping, nonce);
  cipher.setAAD(boundParameters(config));
  return Buffer.concat([nonce, cipher.update(master), cipher.final(), cipher.getAuthTag()]).toString("base64");
}

/**
 * The same config with the master key wrapped under a new password (fresh salt; the KDF cost is kept unless
 * given). Everything else, the master key included, stays: no stored object needs rewriting.
 */
export async function rewrapConfig(
  config: RepositoryConfig,
  master: Buffer,
  password: string,
  kdf?: { N: number; r: number; p: number },
): Promise<RepositoryConfig> {
  if (password === "") throw new Error("the repository password must not be empty");
  const { N, r, p } = kdf ?? config.kdf;
  const next: RepositoryConfig = {
    ...config,
    kdf: { name: "scrypt", N, r, p, salt: randomBytes(16).toString("base64") },
    masterKey: "",
  };
  next.masterKey = await wrapMasterKey(next, master, password);
  return next;
}

/** Reads and checks the config object; unknown formats are refused before the password is tried. */
export async function readConfig(store: ObjectStore): Promise<RepositoryConfig> {
  let raw: Uint8Array;
  try {
    raw = await store.get(CONFIG_KEY);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) throw new NotARepositoryError(store.describe);
    throw err;
  }
  let parsed: Partial<RepositoryConfig>;
  try {
    parsed = JSON.parse(Buffer.from(raw).toString("utf8")) as Partial<RepositoryConfig>;
  } catch {
    throw new Error(`the config object of ${store.describe} is not valid JSON`);
  }
  if (parsed.format !== FORMAT_NAME || parsed.version !== FORMAT_VERSION) {
    throw new UnsupportedFormatError(store.describe, `'${String(parsed.format)}' version ${String(parsed.version)}`);
  }
  const c = parsed as RepositoryConfig;
  if (c.compression !== undefined && !COMPRESSIONS.includes(c.compression)) {
    throw new Error(
      `the config object of ${store.describe} has compression '${String(c.compression)}'; this skiff knows ${COMPRESSIONS.join(", ")}`,
    );
  }
  const ok =
    typeof c.id === "string" &&
    typeof c.masterKey === "string" &&
    c.kdf?.name === "scrypt" &&
    Number.isInteger(c.packSize) &&
    Number.isInteger(c.chunker?.minSize) &&
    Number.isInteger(c.chunker?.avgSize) &&
    Number.isInteger(c.chunker?.maxSize) &&
    c.chunker.minSize > 64 &&
    c.chunker.minSize < c.chunker.maxSize;
  if (!ok) throw new Error(`the config object of ${store.describe} is incomplete or invalid`);
  return c;
}

export async function unwrapMasterKey(config: RepositoryConfig, password: string, store: string): Promise<Buffer> {
  const sealed = Buffer.from(config.masterKey, "base64");
  if (sealed.length !== 12 + 64 + 16) throw new WrongPasswordError(store);
  const wrapping = await deriveKey(password, config.kdf);
  const decipher = createDecipheriv("aes-256-gcm", wrapping, sealed.subarray(0, 12));
  decipher.setAAD(boundParameters(config));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
  } catch {
    throw new WrongPasswordError(store);
  }
}
