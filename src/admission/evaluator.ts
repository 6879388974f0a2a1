/**
 * The seam between the HTTP layer and the policy engine. The server only knows this interface, so the same
 * stack serves the real policies, a no-op handler (for benchmarks) or a fixed decision (for tests).
 */
import type { Decision } from "../policy/types.ts";
import type { AdmissionRequest, Phase } from "./codec.ts";

export interface AdmissionEvaluator {
  /** True once a first policy set has been loaded (even an empty one, if that is what is configured). */
  ready(): boolean;
  /**
   * False while no policy set exists at all: reviews then get HTTP 503, so the apiserver applies the webhook's
   * failurePolicy instead of receiving a verdict. (ready() may also wait for caches; this does not.)
   */
  loaded?(): boolean;
  /** Pure and synchronous: evaluation never reaches the network (the cluster is read from watch caches). */
  evaluate(request: AdmissionRequest, phase: Phase): Decision;
}

const allow: Decision = Object.freeze({
  allowed: true,
  results: [],
  warnings: [],
  auditAnnotations: {},
  patch: [],
}) as Decision;

/** Allows everything without looking at the request: the baseline for what policies cost. */
export const noopEvaluator: AdmissionEvaluator = {
  ready: () => true,
  evaluate: () => allow,
};
