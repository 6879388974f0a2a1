/**
 * The S3 backend of the object store (the factories are in s3.ts). One PUT per object: packs are a few tens
 * of MiB, so parallel PUTs over kept-alive connections give the throughput, not multipart uploads. Ranged
 * GETs; listings paged in key order (S3 sorts by the UTF-8 bytes of the key).
 *
 * Conditional writes: putIfAbsent uses `If-None-Match: *`, which AWS S3 (since 2024) and most current S3
 * servers honour. Some servers reject the header (501 NotImplemented) and some silently ignore it, so the
 * first putIfAbsent probes the server once with a throw-away object; where conditional writes are missing it
 * falls back to stat-then-put and warns. That fallback is racy: two writers creating the same key at the same
 * moment can both succeed (for the repository: two `repo init` of one location at once).
 * Because the SDK retries a PUT whose answer was lost, a 412 is checked against the stored bytes: an object
 * identical to the one being written counts as written by this call.
 */
import { randomUUID } from "node:crypto";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { S3Settings } from "./s3-config.ts";
import { errorCode, httpStatus, s3Error } from "./s3-errors.ts";
import { type ObjectInfo, ObjectNotFoundError, type ObjectStore } from "./types.ts";

type ConditionalWrites = "native" | "emulated";

/** Keys are relative '/'-separated paths; these checks keep every key inside the store's prefix. */
function checkKey(key: string): void {
  const bad =
    key === "" ||
    key.startsWith("/") ||
    key.includes("\0") ||
    key.split("/").some((segment) => segment === "" || segment === "." || segment === "..");
  if (bad) throw new Error(`invalid object key '${key}': expected a relative path like 'a/b/c'`);
}

/** A GET's error for an object that does not exist (not a missing bucket, which is reported as such). */
function isMissingObject(err: unknown): boolean {
  return errorCode(err) === "NoSuchKey" || (httpStatus(err) === 404 && errorCode(err) !== "NoSuchBucket");
}

export class S3ObjectStore implements ObjectStore {
  readonly describe: string;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #root: string;
  readonly #endpoint: string;
  readonly #settings: S3Settings;
  readonly #warn: (message: string) => void;
  readonly #listPageSize: number;
  #conditional: Promise<ConditionalWrites> | undefined;

  constructor(
    client: S3Client,
    fields: {
      bucket: string;
      prefix: string;
      endpoint: string;
      settings: S3Settings;
      warn?: (message: string) => void;
      listPageSize?: number;
    },
  ) {
    this.#client = client;
    this.#bucket = fields.bucket;
    this.#root = fields.prefix ? `${fields.prefix}/` : "";
    this.#endpoint = fields.endpoint;
    this.#settings = fields.settings;
    this.#warn = fields.warn ?? (() => {});
    this.#listPageSize = fields.listPageSize ?? 1000;
    this.describe = `s3://${fields.bucket}${fields.prefix ? `/${fields.prefix}` : ""}`;
  }

  #fail(err: unknown, operation: string, key?: string): Error {
    return s3Error(err, {
      operation,
      bucket: this.#bucket,
      key: key === undefined ? undefined : this.#root + key,
      endpoint: this.#endpoint,
    });
  }

  #putInput(key: string, body: Uint8Array): PutObjectCommandInput {
    const s = this.#settings;
    return {
      Bucket: this.#bucket,
      Key: this.#root + key,
      Body: body,
      ContentLength: body.byteLength,
      ContentType: "application/octet-stream",
      ...(s.checksumAlgorithm ? { ChecksumAlgorithm: s.checksumAlgorithm } : {}),
      ...(s.serverSideEncryption ? { ServerSideEncryption: s.serverSideEncryption as "AES256" } : {}),
      ...(s.kmsKeyId ? { SSEKMSKeyId: s.kmsKeyId } : {}),
      ...(s.tagging ? { Tagging: s.tagging } : {}),
    };
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    try {
      await this.#client.send(new PutObjectCommand(this.#putInput(key, body)));
    } catch (err) {
      throw this.#fail(err, "put", key);
    }
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    checkKey(key);
    if ((await this.#conditionalWrites()) === "emulated") {
      if (await this.stat(key)) return false;
      await this.put(key, body);
      return true;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.send(new PutObjectCommand({ ...this.#putInput(key, body), IfNoneMatch: "*" }));
        return true;
      } catch (err) {
        // The SDK retries a PUT whose answer was lost; the retry then meets our own first write and gets 412.
        // An existing object with exactly our bytes is therefore counted as ours.
        if (httpStatus(err) === 412) return this.#holds(key, body);
        // 409 ConditionalRequestConflict: another conditional write of this key is in flight; retry it.
        if (httpStatus(err) === 409 && attempt < 4) continue;
        throw this.#fail(err, "put (if absent)", key);
      }
    }
  }

  async #holds(key: string, body: Uint8Array): Promise<boolean> {
    const existing = await this.get(key).catch(() => undefined);
    return existing !== undefined && Buffer.from(existing).equals(body);
  }

  /** Learns once whether the server enforces If-None-Match on PUT, by writing a probe object twice. */
  #conditionalWrites(): Promise<ConditionalWrites> {
    this.#conditional ??= (async (): Promise<ConditionalWrites> => {
      const probe = `${this.#root}.skiff-conditional-write-probe-${randomUUID()}`;
      const send = () =>
        this.#client.send(
          new PutObjectCommand({ Bucket: this.#bucket, Key: probe, Body: new Uint8Array(0), IfNoneMatch: "*" }),
        );
      let mode: ConditionalWrites = "native";
      try {
        await send();
        try {
          await send();
          mode = "emulated"; // the second write succeeded: the header was ignored
        } catch (err) {
          if (httpStatus(err) !== 412) throw err;
        }
      } catch (err) {
        const status = httpStatus(err);
        if (status !== 501 && errorCode(err) !== "NotImplemented" && status !== 400) {
          this.#conditional = undefined;
          throw this.#fail(err, "probe conditional writes with", probe.slice(this.#root.length));
        }
        mode = "emulated";
      } finally {
        await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: probe })).catch(() => {});
      }
      if (mode === "emulated") {
        this.#warn(
          `${this.describe} at ${this.#endpoint} does not enforce If-None-Match on PUT: ` +
            "create-if-absent falls back to check-then-write, which is not safe with concurrent writers",
        );
      }
      return mode;
    })();
    return this.#conditional;
  }

  async get(key: string, range?: { offset: number; length: number }): Promise<Uint8Array> {
    checkKey(key);
    if (range && (range.offset < 0 || range.length < 0 || !Number.isSafeInteger(range.offset + range.length))) {
      throw new Error(`invalid range offset=${range.offset} length=${range.length} for '${key}'`);
    }
    if (range?.length === 0) {
      if (!(await this.stat(key))) throw new ObjectNotFoundError(this.describe, key);
      return new Uint8Array(0);
    }
    let bytes: Uint8Array;
    try {
      const answer = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#root + key,
          ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
        }),
      );
      bytes = answer.Body ? await answer.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (isMissingObject(err)) throw new ObjectNotFoundError(this.describe, key);
      if (range && httpStatus(err) === 416) throw this.#outOfRange(key, range);
      throw this.#fail(err, "get", key);
    }
    // S3 answers a range that runs past the end with the bytes it has; callers asked for exactly `length`.
    if (range && bytes.byteLength !== range.length) throw this.#outOfRange(key, range);
    return bytes;
  }

  /**
   * A ranged GET streamed straight into `target`, without the whole-body copy `get` makes. S3 answers a range
   * that starts at or past the end with 416 (the object exists, so that is 0 bytes) and one that runs past the
   * end with the bytes it has.
   */
  async readInto(key: string, offset: number, target: Uint8Array): Promise<number> {
    checkKey(key);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`invalid offset ${offset} for '${key}'`);
    if (target.length === 0) {
      if (!(await this.stat(key))) throw new ObjectNotFoundError(this.describe, key);
      return 0;
    }
    let done = 0;
    try {
      const answer = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#root + key,
          Range: `bytes=${offset}-${offset + target.length - 1}`,
        }),
      );
      // In Node the body is a readable stream of Buffers (the SDK's stream mixin).
      for await (const piece of (answer.Body ?? []) as AsyncIterable<Uint8Array>) {
        if (done + piece.length > target.length) {
          throw new Error(`${this.describe}/${key} answered more bytes than the range asked for`);
        }
        target.set(piece, done);
        done += piece.length;
      }
    } catch (err) {
      if (isMissingObject(err)) throw new ObjectNotFoundError(this.describe, key);
      if (httpStatus(err) === 416) return 0;
      throw this.#fail(err, "read", key);
    }
    return done;
  }

  #outOfRange(key: string, range: { offset: number; length: number }): Error {
    return new Error(`range ${range.offset}+${range.length} is outside ${this.describe}/${key}`);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    checkKey(key);
    try {
      const answer = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }));
      return { key, size: answer.ContentLength ?? 0, modified: answer.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw this.#fail(err, "stat", key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#root + prefix,
            MaxKeys: this.#listPageSize,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (err) {
        throw this.#fail(err, "list", prefix);
      }
      for (const item of page.Contents ?? []) {
        if (!item.Key) continue;
        yield {
          key: item.Key.slice(this.#root.length),
          size: item.Size ?? 0,
          modified: item.LastModified?.getTime() ?? 0,
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#root + key }));
    } catch (err) {
      if (httpStatus(err) === 404 && errorCode(err) !== "NoSuchBucket") return;
      throw this.#fail(err, "delete", key);
    }
  }

  /** Confirms the bucket exists and the credentials are accepted. */
  async verify(): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (err) {
      throw s3Error(err, { operation: "open", bucket: this.#bucket, endpoint: this.#endpoint, bucketLevel: true });
    }
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.#client.destroy();
  }
}
