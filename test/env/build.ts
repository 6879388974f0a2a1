/**
 * Builds (or finds) every server binary the tests use, so the first test run does not pay for it.
 * Usage: node test/env/build.ts [component ...]
 */
import { allComponents, assetVariable, type Component, ensureBinary, versionOf } from "./binaries.ts";

export interface BuildFailure {
  component: Component;
  message: string;
}

/** Ensures each component in turn; returns the failures (each with how to supply the binary instead). */
export async function ensureBinaries(
  components: readonly Component[] = allComponents,
  log: (line: string) => void = () => {},
): Promise<BuildFailure[]> {
  const failures: BuildFailure[] = [];
  for (const component of components) {
    const started = Date.now();
    try {
      const path = await ensureBinary(component, log);
      log(`${component}: ${path} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      failures.push({
        component,
        message:
          `${component} ${versionOf(component)} is not available: ${(err as Error).message}\n` +
          `  Supply it prebuilt with ${assetVariable(component)}=<path to the binary>, or KUBEBUILDER_ASSETS=<dir> ` +
          `holding ${component}; building it needs Go on PATH and access to the Go module proxy.`,
      });
    }
  }
  return failures;
}

if (import.meta.main) {
  const wanted = process.argv.slice(2) as Component[];
  for (const name of wanted) {
    if (!allComponents.includes(name)) {
      console.error(`unknown component '${name}'; expected one of: ${allComponents.join(", ")}`);
      process.exit(2);
    }
  }
  const failures = await ensureBinaries(wanted.length ? wanted : allComponents, (line) => console.log(line));
  for (const failure of failures) console.error(failure.message);
  process.exit(failures.length ? 1 : 0);
}
