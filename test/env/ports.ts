/**
 * Free loopback ports. A port found free can be taken by someone else before the server binds it, so callers
 * that start servers wrap the start in retryOnPortClash, which retries with fresh ports.
 */
import { createServer } from "node:net";

/** Asks the kernel for a free port on 127.0.0.1 (bind to port 0, read it back, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a loopback listener"));
      });
    });
  });
}

/** Distinct free ports (the kernel may hand back the same port twice in a row once it was released). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** True when an error (or the server output attached to it) says the address was already in use. */
export function isPortClash(err: unknown): boolean {
  const text = err instanceof Error ? `${err.message}\n${String((err as { output?: string }).output ?? "")}` : "";
  return (
    (err as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE" ||
    /address already in use|EADDRINUSE|bind: address/i.test(text)
  );
}

/** Runs start() up to `attempts` times while it fails because a port was taken in the meantime. */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !isPortClash(err)) throw err;
    }
  }
}
