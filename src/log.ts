import { type Logger, pino } from "pino";

export type { Logger };

/**
 * The process logger. JSON lines on stderr (stdout is kept for command output), level from SKIFF_LOG_LEVEL.
 * Secret-bearing fields are redacted wherever they appear, so a logged object can never leak them.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: options.name ?? "skiff",
      level: options.level ?? process.env.SKIFF_LOG_LEVEL ?? "info",
      redact: {
        paths: [
          "password",
          "*.password",
          "secret",
          "*.secret",
          "secretAccessKey",
          "*.secretAccessKey",
          "token",
          "*.token",
          "authorization",
          "*.authorization",
          "headers.authorization",
          "*.headers.authorization",
          "data",
          "*.stringData",
        ],
        censor: "[redacted]",
      },
    },
    pino.destination(2),
  );
}
