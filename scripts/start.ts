/**
 * `npm start`: a local control plane (etcd, kube-apiserver, kube-controller-manager) and an S3 server for trying
 * Skiff by hand. Builds missing server binaries first, prints how to reach everything, and stays up until Ctrl-C;
 * then every process and temp dir goes away.
 */
import { ensureBinaries } from "../test/env/build.ts";
import { startControlPlane } from "../test/env/control-plane.ts";
import { startS3Server } from "../test/env/s3.ts";

/** A part of the local environment; later parts (webhook, controller) are added to this list. */
interface Part {
  name: string;
  start(): Promise<{ describe: string[]; stop(): Promise<void> }>;
}

const parts: Part[] = [
  {
    name: "control plane",
    async start() {
      const cluster = await startControlPlane({ controllerManager: true });
      return {
        describe: [
          `kube-apiserver:   ${cluster.server}`,
          `kubeconfig:       ${cluster.kubeconfigPath}`,
          `                  export KUBECONFIG=${cluster.kubeconfigPath}`,
          `server logs:      ${cluster.dir}/*.log`,
        ],
        stop: cluster.stop,
      };
    },
  },
  {
    name: "S3 server",
    async start() {
      const s3 = await startS3Server();
      return {
        describe: [
          `S3 endpoint:      ${s3.endpoint} (region ${s3.region}, path-style)`,
          `S3 credentials:   ${s3.credentialsFile}`,
          `                  export AWS_SHARED_CREDENTIALS_FILE=${s3.credentialsFile}`,
        ],
        stop: s3.stop,
      };
    },
  },
];

// Registered before the servers start, so this runs ahead of the environment's own exit handlers.
process.once("SIGINT", () => console.log("\nstopping"));
process.once("SIGTERM", () => console.log("\nstopping"));

const failures = await ensureBinaries(undefined, (line) => console.log(line));
if (failures.length > 0) {
  for (const failure of failures) console.error(failure.message);
  process.exit(1);
}

const started = Date.now();
const running: Array<{ stop(): Promise<void> }> = [];
const lines: string[] = [];
try {
  for (const part of parts) {
    const result = await part.start();
    running.push(result);
    lines.push(...result.describe);
  }
} catch (err) {
  console.error(`could not start the local environment: ${(err as Error).message}`);
  for (const part of running.reverse()) await part.stop().catch(() => {});
  process.exit(1);
}
console.log(`\nlocal environment up in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
for (const line of lines) console.log(line);
console.log("\nCtrl-C stops everything and removes the temp dirs.");

// Stay up; on SIGINT/SIGTERM the environment's exit handlers kill every server group and remove the temp dirs.
setInterval(() => {}, 1 << 30);
