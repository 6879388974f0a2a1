/**
 * Every subcommand, in the order `skiff --help` lists them. Modules are imported lazily by `load`.
 */
import { registerCommand } from "./commands.ts";

registerCommand({
  name: "dev-cluster",
  summary: "start a local kube-apiserver, etcd and S3 server and print how to reach them",
  load: async () => (await import("./dev-cluster.ts")).run,
});
