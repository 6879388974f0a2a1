/**
 * Every subcommand, in the order `skiff --help` lists them. Modules are imported lazily by `load`, so a
 * command's dependencies are only loaded when it runs.
 */
import { registerCommand } from "./commands.ts";

// -- local development --
registerCommand({
  name: "dev-cluster",
  summary: "start a local kube-apiserver, etcd and S3 server and print how to reach them",
  load: async () => (await import("./dev-cluster.ts")).run,
});

// -- admission webhooks --

// -- policies (offline) --

// -- repository --

// -- data mover --
