/**
 * Every subcommand, in the order `skiff --help` lists them. Modules are imported lazily by `load`, so a
 * command's dependencies are only loaded when it runs.
 */
import { registerCommand } from "./commands.ts";

// -- admission webhooks --
registerCommand({
  name: "webhook",
  summary: "serve the admission webhooks (policies from files and cluster resources, TLS, metrics)",
  load: async () => (await import("./webhook.ts")).run,
});

// -- policies (offline) --
registerCommand({
  name: "policy lint",
  summary: "validate policy files (schema and CEL)",
  load: async () => (await import("./policy-lint.ts")).run,
});
registerCommand({
  name: "policy test",
  summary: "run policy fixture tests (policy + objects + expected verdicts)",
  load: async () => (await import("./policy-test.ts")).run,
});
registerCommand({
  name: "policy apply",
  summary: "admit manifests through the policies offline; print mutated objects and verdicts",
  load: async () => (await import("./policy-apply.ts")).run,
});

// -- repository --
registerCommand({
  name: "repo init",
  summary: "create a backup repository (filesystem path or s3://)",
  load: async () => (await import("./repo-init.ts")).run,
});
registerCommand({
  name: "repo connect",
  summary: "check that a repository opens with the password and print its summary",
  load: async () => (await import("./repo-connect.ts")).run,
});
registerCommand({
  name: "repo snapshots",
  summary: "list the snapshots in a repository (table or --json), or --delete one",
  load: async () => (await import("./repo-snapshots.ts")).run,
});
registerCommand({
  name: "repo verify",
  summary: "check a repository's index, trees and (with --read-data) every pack",
  load: async () => (await import("./repo-verify.ts")).run,
});
registerCommand({
  name: "repo maintenance",
  summary: "compact the index, or with --full delete unreachable data past the safety margin",
  load: async () => (await import("./repo-maintenance.ts")).run,
});
registerCommand({
  name: "repo change-password",
  summary: "wrap the repository's master key under a new password (stored data is not rewritten)",
  load: async () => (await import("./repo-change-password.ts")).run,
});
registerCommand({
  name: "repo repair-index",
  summary: "rebuild the index from the packs after index files were damaged or lost",
  load: async () => (await import("./repo-repair-index.ts")).run,
});

// -- data mover --
registerCommand({
  name: "data-mover backup",
  summary: "back up a mounted volume (directory or block device) into the repository",
  load: async () => (await import("./data-mover-backup.ts")).run,
});
registerCommand({
  name: "data-mover restore",
  summary: "restore a snapshot into an empty directory or onto a block device",
  load: async () => (await import("./data-mover-restore.ts")).run,
});
