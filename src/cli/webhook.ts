/** `skiff webhook`: parse options, start the webhook, stop gracefully on SIGTERM/SIGINT. */
import { parseWebhookOptions, webhookUsage } from "../admission/webhook-options.ts";
import type { CommandRun } from "./commands.ts";

export const run: CommandRun = async ({ argv, env, stdout, stderr }) => {
  const parsed = parseWebhookOptions(argv, env);
  if ("help" in parsed) {
    stdout.write(webhookUsage);
    return 0;
  }
  if ("error" in parsed) {
    stderr.write(`skiff webhook: ${parsed.error}\n${webhookUsage}`);
    return 2;
  }
  const { startWebhook } = await import("../admission/webhook.ts");
  const { createLogger } = await import("../log.ts");
  const logger = createLogger({ name: "skiff-webhook" });
  // A stray rejection in a background task (a watch, a status update) is logged; the reviews keep being served.
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
  const webhook = await startWebhook(parsed.options, { logger });
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      stderr.write(`skiff webhook: ${signal} received, shutting down\n`);
      webhook.close().then(
        () => resolve(0),
        (err: unknown) => {
          stderr.write(`skiff webhook: shutdown failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
};
