/** `skiff policy lint FILE|DIR...`: schema and CEL checks of policy files, as the webhook would load them. */
import { compilePolicySet, formatLoadError } from "../policy/index.ts";
import type { CommandRun } from "./commands.ts";
import { loadPolicies } from "./policy-fixtures.ts";

const usage =
  "Usage: skiff policy lint FILE|DIR...\n  Validates policy documents (schema and CEL); exit 1 if any has errors.\n";

export const run: CommandRun = async ({ argv, stdout, stderr }) => {
  if (argv.includes("-h") || argv.includes("--help")) {
    stdout.write(usage);
    return 0;
  }
  if (argv.length === 0 || argv.some((a) => a.startsWith("-"))) {
    stderr.write(usage);
    return 2;
  }
  let loaded: Awaited<ReturnType<typeof loadPolicies>>;
  try {
    loaded = await loadPolicies(argv);
  } catch (err) {
    stderr.write(`skiff policy lint: ${(err as Error).message}\n`);
    return 2;
  }
  const compiled = compilePolicySet(loaded.policies);
  const errors = [...loaded.errors, ...compiled.errors.map(formatLoadError)];
  for (const e of errors) stdout.write(`${e}\n`);
  stdout.write(`${compiled.set.policies.length} policies valid, ${errors.length} errors\n`);
  return errors.length > 0 ? 1 : 0;
};
