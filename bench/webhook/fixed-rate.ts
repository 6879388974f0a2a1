/**
 * An open-loop load generator: requests leave on a fixed schedule (not when a previous one returns) over a pool
 * of keep-alive HTTPS connections, and each latency is measured from the moment the request was due, so a
 * stalled server shows up in the percentiles instead of silently lowering the rate (coordinated omission).
 * autocannon's rate limit sends each second's budget in a burst, which measures queueing, not latency.
 */
import { Agent, request } from "node:https";

export interface FixedRateResult {
  sent: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
  achievedRate: number;
}

export async function fixedRate(options: {
  port: number;
  rate: number;
  seconds: number;
  requests: { path: string; body: string }[];
}): Promise<FixedRateResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false });
  const total = Math.round(options.rate * options.seconds);
  const latencies = new Float64Array(total);
  let done = 0;
  let errors = 0;
  let sent = 0;
  const bodies = options.requests.map((r) => ({ path: r.path, body: Buffer.from(r.body) }));
  const start = performance.now();
  const interval = 1000 / options.rate;

  const fire = (index: number, due: number) => {
    const { path, body } = bodies[index % bodies.length] as { path: string; body: Buffer };
    const req = request(
      {
        host: "127.0.0.1",
        port: options.port,
        path,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode !== 200) errors++;
          latencies[index] = performance.now() - due;
          done++;
        });
      },
    );
    req.on("error", () => {
      errors++;
      latencies[index] = performance.now() - due;
      done++;
    });
    req.end(body);
  };

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (sent < due) {
        fire(sent, start + sent * interval);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + sent * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  while (done < total) await new Promise((r) => setTimeout(r, 5));
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { sent: total, errors, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0, achievedRate: total / elapsed };
}
