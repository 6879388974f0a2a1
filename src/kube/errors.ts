/**
 * API errors in one shape. The client throws ApiException with the HTTP code and a Status body; callers only
 * need the code, the reason and a message that says which request failed.
 */
export interface KubeErrorInfo {
  /** HTTP status, 0 when the API server was not reached at all. */
  code: number;
  reason: string;
  message: string;
}

export class KubeError extends Error {
  readonly code: number;
  readonly reason: string;
  constructor(info: KubeErrorInfo, options?: { cause?: unknown }) {
    super(info.message, options);
    this.name = "KubeError";
    this.code = info.code;
    this.reason = info.reason;
  }
}

function statusBody(body: unknown): { reason?: string; message?: string } {
  if (typeof body === "string") {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return { message: body.slice(0, 500) };
    }
  }
  if (body && typeof body === "object") {
    const b = body as { reason?: unknown; message?: unknown };
    return {
      reason: typeof b.reason === "string" ? b.reason : undefined,
      message: typeof b.message === "string" ? b.message : undefined,
    };
  }
  return {};
}

/** Wraps any error from the client as a KubeError naming what was being done. */
export function normalizeKubeError(err: unknown, doing: string): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: unknown; statusCode?: unknown };
  const code = typeof e.code === "number" ? e.code : typeof e.statusCode === "number" ? e.statusCode : 0;
  const status = statusBody(e.body);
  const reason = status.reason ?? (code === 0 ? "Unreachable" : `HTTP${code}`);
  const detail = status.message ?? (typeof e.message === "string" ? e.message : String(err));
  return new KubeError({ code, reason, message: `${doing}: ${detail}` }, { cause: err });
}

export const isNotFound = (err: unknown) => (err as { code?: number }).code === 404;
export const isConflict = (err: unknown) => (err as { code?: number }).code === 409;
export const isAlreadyExists = (err: unknown) =>
  (err as { code?: number }).code === 409 && (err as { reason?: string }).reason === "AlreadyExists";
