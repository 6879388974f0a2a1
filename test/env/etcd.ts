/** A throwaway etcd member on loopback ports, data in a temp dir, fsync off (tests do not need durability). */
import { join } from "node:path";
import { ensureBinary } from "./binaries.ts";
import { freePorts, retryOnPortClash } from "./ports.ts";
import { type ServerProcess, startServer, waitUntilReady } from "./process.ts";

export interface Etcd {
  clientUrl: string;
  process: ServerProcess;
  stop(): Promise<void>;
}

export async function startEtcd(dir: string, log: (line: string) => void = () => {}): Promise<Etcd> {
  const binary = await ensureBinary("etcd", log);
  return retryOnPortClash(async () => {
    const [clientPort, peerPort] = await freePorts(2);
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const server = startServer({
      name: "etcd",
      binary,
      logDir: dir,
      args: [
        `--name=skiff-test`,
        `--data-dir=${join(dir, "etcd-data")}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=skiff-test=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
    });
    try {
      await waitUntilReady(
        server,
        async () => {
          const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
          return res.ok && ((await res.json()) as { health?: string }).health === "true";
        },
        30_000,
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
    return { clientUrl, process: server, stop: () => server.stop() };
  });
}
