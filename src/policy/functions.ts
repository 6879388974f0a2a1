/**
 * Skiff's own CEL functions: Pod Security evaluation, read-only lookups in the cluster view, and `withField` to
 * change one field of a map (CEL has no map update, and mutations of list elements need one).
 */
import type { Environment } from "@marcbachmann/cel-js";
import { configTypes } from "../api/config/schemas.ts";
import { validateConfigMapData } from "../api/config/validate.ts";
import { fromCel, toCel } from "./cel/values.ts";
import { evaluatePodSecurity, parseLevel } from "./podsecurity/index.ts";
import type { ClusterView } from "./view.ts";

let activeView: ClusterView | undefined;

/** Makes `view` what lookup() reads while `run` executes (evaluation is synchronous). */
export function withClusterView<T>(view: ClusterView, run: () => T): T {
  const previous = activeView;
  activeView = view;
  try {
    return run();
  } finally {
    activeView = previous;
  }
}

export function registerSkiffFunctions(env: Environment): void {
  const violations = (object: unknown, level: string, version = "latest") => {
    const parsed = parseLevel(level);
    if (!parsed) throw new Error(`unknown Pod Security level "${level}" (privileged, baseline or restricted)`);
    return toCel(evaluatePodSecurity(fromCel(object), parsed, version));
  };
  env.registerFunction("podSecurityViolations(dyn, string): list<dyn>", (o: unknown, l: string) => violations(o, l));
  env.registerFunction("podSecurityViolations(dyn, string, string): list<dyn>", violations);
  env.registerFunction("isPodSecurityLevel(string): bool", (level: string) => parseLevel(level) !== undefined);
  env.registerFunction(
    "lookup(string, string, string, string): dyn",
    (apiVersion: string, kind: string, namespace: string, name: string) => {
      const found = activeView?.getResource({ apiVersion, kind, ...(namespace ? { namespace } : {}), name });
      return found ? toCel(found) : null;
    },
  );
  env.registerFunction("configMapProblems(string, dyn): list<dyn>", (type: string, data: unknown) => {
    const known = configTypes.find((t) => t === type);
    if (!known) throw new Error(`unknown config type "${type}" (${configTypes.join(", ")})`);
    const plain = fromCel(data);
    return toCel(validateConfigMapData(known, (plain ?? {}) as Record<string, unknown>));
  });
  env.registerFunction("withField(dyn, string, dyn): dyn", (map: unknown, key: string, value: unknown) => {
    if (map === null || typeof map !== "object" || Array.isArray(map)) throw new Error("withField() needs a map");
    if (map instanceof Map) return new Map(map).set(key, value);
    return { ...(map as Record<string, unknown>), [key]: value };
  });
}
