/**
 * What the data mover prints: progress (a bar on a terminal, otherwise Velero-style JSON lines
 * {"totalBytes":N,"doneBytes":N} on stdout), the final summary, the cancellation message, and the outcome in the
 * pod's termination log.
 */
import { writeFile } from "node:fs/promises";
import type { Progress } from "../datamover/progress.ts";

/** The text Velero's node agent looks for to tell a cancelled data path from a failed one. */
export const canceledMessage = "data path is canceled";

export interface MoverOutput {
  progress(progress: Progress): void;
  /** Clears the bar (if any) so following lines start clean. */
  endProgress(): void;
  /** One JSON document on stdout (always JSON, so scripts and the controller can read it). */
  result(document: Record<string, unknown>): void;
  notice(message: string): void;
}

export function createMoverOutput(options: {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  json: boolean;
  now?: () => number;
}): MoverOutput {
  const { stdout, stderr } = options;
  const terminal = !options.json && (stderr as { isTTY?: boolean }).isTTY === true;
  const now = options.now ?? Date.now;
  const started = now();
  let barShown = false;
  return {
    progress(p) {
      if (!terminal) {
        stdout.write(`${JSON.stringify({ totalBytes: p.totalBytes, doneBytes: p.bytesDone })}\n`);
        return;
      }
      stderr.write(`\r${renderBar(p, (now() - started) / 1000)}`);
      barShown = true;
    },
    endProgress() {
      if (barShown) stderr.write("\n");
      barShown = false;
    },
    result(document) {
      stdout.write(`${JSON.stringify(document)}\n`);
    },
    notice(message) {
      if (barShown) stderr.write("\n");
      barShown = false;
      stderr.write(`${message}\n`);
    },
  };
}

export function renderBar(p: Progress, seconds: number, width = 30): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 0;
  const filled = Math.round(fraction * width);
  const rate = seconds > 0 ? p.bytesDone / seconds : 0;
  const percent = p.totalBytes > 0 ? `${(fraction * 100).toFixed(1).padStart(5)}%` : "    ?%";
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent} ${formatBytes(p.bytesDone)} / ${formatBytes(p.totalBytes)} ${formatBytes(rate)}/s `;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** MB/s with 1 MB = 10^6 bytes, as throughput is usually quoted. */
export function throughput(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.round((bytes / 1e6 / seconds) * 10) / 10 : 0;
}

/** Best effort: a missing termination log must not turn a good backup into a failure. */
export async function writeTerminationLog(path: string | undefined, message: string): Promise<void> {
  if (path === undefined) return;
  await writeFile(path, message).catch(() => {});
}
