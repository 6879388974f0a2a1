/**
 * The webhook's HTTP routes: /mutate and /validate take AdmissionReviews, /healthz and /readyz are the
 * probes, /metrics is Prometheus text. The app holds no per-request state outside the request itself, so
 * concurrent reviews never see each other's data.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "../log.ts";
import type { Decision } from "../policy/types.ts";
import {
  buildResponse,
  errorResponse,
  isJsonMediaType,
  type ParsedReview,
  type Phase,
  parseAdmissionReview,
  type TransportError,
} from "./codec.ts";
import type { AdmissionEvaluator } from "./evaluator.ts";
import { type AdmissionMetrics, METRICS_CONTENT_TYPE } from "./metrics.ts";

/** The apiserver caps request bodies at 3 MiB; anything larger is not from it. */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

export interface AdmissionAppOptions {
  evaluator: AdmissionEvaluator;
  metrics: AdmissionMetrics;
  logger: Logger;
  /** True when a serving certificate is loaded. */
  certificateReady?: () => boolean;
  /** True once shutdown has begun: /readyz fails so endpoints drop this replica. */
  draining?: () => boolean;
  bodyLimit?: number;
}

class BodyError extends Error {
  readonly status: TransportError["status"];
  constructor(status: TransportError["status"], message: string) {
    super(message);
    this.status = status;
  }
}

/** Reads the body into one Buffer, refusing early (by Content-Length) or as soon as the limit is passed. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new BodyError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on("data", (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new BodyError(413, `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!failed) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.on("error", (err) => {
      if (!failed) reject(new BodyError(400, `reading the request body failed: ${err.message}`));
      failed = true;
    });
  });
}

function resultOf(decision: Decision, phase: Phase): string {
  if (!decision.allowed) return "denied";
  if (phase === "mutate" && decision.patch.length > 0) return "patched";
  return "allowed";
}

const json = (res: ServerResponse, status: number, payload: string) => {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
};

/**
 * The AdmissionReview handler on plain node request/response objects: it is both an express route and, via
 * createAdmissionListener, the fast path that skips express's router for the two hot routes.
 */
export function createReviewHandler(options: AdmissionAppOptions) {
  const { evaluator, metrics, logger } = options;
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;

  const reject = (res: ServerResponse, route: string, error: TransportError, req: IncomingMessage, started: bigint) => {
    logger.warn({ route, status: error.status, remote: req.socket.remoteAddress }, `rejected request: ${error.reason}`);
    metrics.requests.inc({ route, result: "rejected", code: String(error.status) });
    metrics.latency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
    if (!res.headersSent) json(res, error.status, JSON.stringify({ error: error.reason, status: error.status }));
  };

  const evaluate = (parsed: ParsedReview, phase: Phase, route: string) => {
    const { request } = parsed;
    try {
      const decision = evaluator.evaluate(request, phase);
      for (const r of decision.results) {
        if (r.outcome === "skip") continue;
        metrics.policyResults.inc({ policy: r.policy, outcome: r.outcome, action: r.action ?? "" });
        if (r.outcome === "error") metrics.policyErrors.inc({ policy: r.policy });
      }
      if (!decision.allowed) {
        logger.info(
          { route, uid: request.uid, kind: request.kind?.kind, namespace: request.namespace, name: request.name },
          `denied: ${decision.message ?? ""}`,
        );
      }
      return { body: buildResponse(parsed, decision, phase), result: resultOf(decision, phase) };
    } catch (err) {
      // The engine returns errors as values; reaching this is a bug. Answer (the failurePolicy of the
      // webhook is not consulted for a well-formed 200 response) and keep serving.
      logger.error({ route, uid: request.uid, err }, "policy evaluation threw");
      return {
        body: errorResponse(parsed, 500, `internal error evaluating policies: ${(err as Error).message}`),
        result: "error",
      };
    }
  };

  const handle = async (phase: Phase, req: IncomingMessage, res: ServerResponse) => {
    const route = `/${phase}`;
    const started = process.hrtime.bigint();
    if (!isJsonMediaType(req.headers["content-type"])) {
      req.resume();
      const reason = `Content-Type must be application/json, got ${req.headers["content-type"] ?? "none"}`;
      reject(res, route, { status: 415, reason }, req, started);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, limit);
    } catch (err) {
      const e = err as BodyError;
      reject(res, route, { status: e.status ?? 400, reason: e.message }, req, started);
      return;
    }
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      reject(res, route, parsed.error, req, started);
      return;
    }
    if (evaluator.loaded && !evaluator.loaded()) {
      reject(res, route, { status: 503, reason: "policies are not loaded yet" }, req, started);
      return;
    }
    const answer = evaluate(parsed.review, phase, route);
    json(res, 200, JSON.stringify(answer.body));
    metrics.requests.inc({ route, result: answer.result, code: "200" });
    metrics.latency.observe({ route }, Number(process.hrtime.bigint() - started) / 1e9);
  };

  // Whatever goes wrong in one review (a value JSON cannot encode, a socket error) ends that review with a
  // 500, never the process.
  return (phase: Phase) => async (req: IncomingMessage, res: ServerResponse) => {
    try {
      await handle(phase, req, res);
    } catch (err) {
      logger.error({ err, route: `/${phase}` }, "review failed");
      metrics.requests.inc({ route: `/${phase}`, result: "error", code: "500" });
      if (!res.headersSent) json(res, 500, JSON.stringify({ error: "internal error", status: 500 }));
      else res.destroy();
    }
  };
}

/** The express app: every route, including the review routes (also reachable through express). */
export function createAdmissionApp(options: AdmissionAppOptions): Express {
  const { evaluator, metrics, logger } = options;
  const certificateReady = options.certificateReady ?? (() => true);
  const review = createReviewHandler(options);
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.set("query parser", false);

  app.post("/mutate", review("mutate"));
  app.post("/validate", review("validate"));
  app.get("/healthz", (_req, res) => {
    res.type("text/plain").send("ok");
  });
  app.get("/readyz", (_req, res) => {
    if (options.draining?.()) {
      res.status(503).type("text/plain").send("not ready: shutting down");
      return;
    }
    const policies = evaluator.ready();
    const certs = certificateReady();
    if (policies && certs) {
      res.type("text/plain").send("ok");
      return;
    }
    const missing = [policies ? "" : "policies not loaded", certs ? "" : "no serving certificate"].filter(Boolean);
    res
      .status(503)
      .type("text/plain")
      .send(`not ready: ${missing.join(", ")}`);
  });
  app.get("/metrics", (_req, res) => {
    res.type(METRICS_CONTENT_TYPE).send(metrics.registry.render());
  });
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}`, status: 404 });
  });
  // Express's last-resort handler: log, answer 500, keep serving.
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    logger.error({ err, path: req.path }, "unhandled error in request");
    if (!res.headersSent) res.status(500).json({ error: "internal error", status: 500 });
  });
  return app;
}

/**
 * The server's request listener: POST /mutate and /validate go straight to the review handler (the hot path:
 * express's router and response helpers cost a measurable share of a review); everything else to express.
 */
export function createAdmissionListener(options: AdmissionAppOptions): RequestListener {
  const app = createAdmissionApp(options);
  const review = createReviewHandler(options);
  const mutate = review("mutate");
  const validate = review("validate");
  return (req, res) => {
    if (req.method === "POST") {
      if (req.url === "/mutate") return void mutate(req, res);
      if (req.url === "/validate") return void validate(req, res);
    }
    app(req, res);
  };
}
