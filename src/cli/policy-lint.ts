/** `skiff policy lint FILE|DIR...`: schema and CEL checks of policy files, as the webhook would load them. */
import { compilePolicySet, formatLoadError } from "../policy/index.ts";
import type { CommandRun } from "./commands.ts";
import { checkPathArguments } from "./path-arguments.ts";
import { loadPolicies } from "./policy-fixtures.ts";

const usage =
  "Usage: skiff policy lint FILE|DIR...\n  Validates policy documents (schema and CEL); exit 1 if any has errors.\n";

export const run: CommandRun = async ({ argv, stdout, stderr }) => {
  const early = checkPathArguments({ argv, stdout, stderr }, usage);
  if (early !== undefined) return early;
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
