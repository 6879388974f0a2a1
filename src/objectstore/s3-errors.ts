/**
 * Turns AWS SDK errors into messages a person can act on: which operation, which bucket/key, which endpoint,
 * the S3 error code and HTTP status. SDK messages never include credentials, and nothing here adds any.
 */

export class S3StoreError extends Error {
  /** The S3 error code ("NoSuchBucket", "AccessDenied", ...) or the network error code ("ECONNREFUSED"). */
  readonly code: string;
  readonly httpStatus: number | undefined;
  readonly bucket: string;
  readonly key: string | undefined;
  constructor(
    message: string,
    fields: { code: string; httpStatus?: number; bucket: string; key?: string },
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = "S3StoreError";
    this.code = fields.code;
    this.httpStatus = fields.httpStatus;
    this.bucket = fields.bucket;
    this.key = fields.key;
  }
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string> };
}

export function errorCode(err: unknown): string {
  const e = (err ?? {}) as SdkErrorShape;
  return e.Code ?? (e.name && e.name !== "Error" ? e.name : undefined) ?? e.code ?? "UnknownError";
}

export function httpStatus(err: unknown): number | undefined {
  const e = (err ?? {}) as SdkErrorShape;
  return e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
}

export function responseHeader(err: unknown, name: string): string | undefined {
  return ((err ?? {}) as SdkErrorShape).$response?.headers?.[name];
}

const credentialCodes = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "CredentialsProviderError",
  "InvalidClientTokenId",
  // versitygw's answer (HTTP 404) for an access key it does not know.
  "XAdminUserNotFound",
]);

const networkCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH"]);

const tlsCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * Builds the error for a failed operation. `what` is e.g. "put" or "list"; `target` is "s3://bucket/key".
 * `bucketLevel` says the failure can only mean the bucket itself is missing (HeadBucket's bare 404).
 */
export function s3Error(
  err: unknown,
  context: { operation: string; bucket: string; key?: string; endpoint: string; bucketLevel?: boolean },
): S3StoreError {
  const code = errorCode(err);
  const status = httpStatus(err);
  const { operation, bucket, key, endpoint } = context;
  const target = key === undefined ? `s3://${bucket}` : `s3://${bucket}/${key}`;
  const statusText = status ? ` (HTTP ${status})` : "";
  const detail = (err as SdkErrorShape | undefined)?.message ?? String(err);
  let message: string;
  if (credentialCodes.has(code)) {
    message = `${operation} ${target}: the credentials were rejected by ${endpoint}: ${code}${statusText}: ${detail}`;
  } else if (code === "NoSuchBucket" || (context.bucketLevel && status === 404)) {
    message = `bucket '${bucket}' does not exist at ${endpoint}`;
  } else if (code === "AccessDenied" || status === 403) {
    message = `${operation} ${target}: access denied by ${endpoint}: ${code}${statusText}`;
  } else if (networkCodes.has(code)) {
    message = `${operation} ${target}: cannot reach ${endpoint}: ${code}`;
  } else if (tlsCodes.has(code)) {
    message =
      `${operation} ${target}: TLS verification of ${endpoint} failed: ${code}` +
      " (set the BackupStorageLocation's caCert to the server's certificate authority)";
  } else {
    message = `${operation} ${target} at ${endpoint} failed: ${code}${statusText}: ${detail}`;
  }
  return new S3StoreError(message, { code, httpStatus: status, bucket, key }, err);
}
