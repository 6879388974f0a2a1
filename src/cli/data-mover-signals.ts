/**
 * Cancellation of a data path run: SIGTERM (the pod being deleted or the DataUpload cancelled) and SIGINT abort
 * the run's AbortSignal; in-flight work stops and nothing is committed. A second signal exits at once.
 */
export interface Cancellation {
  signal: AbortSignal;
  /** The signal that cancelled the run, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Exit code for a cancelled run: 128 + signal number (143 for SIGTERM, 130 for SIGINT). */
  readonly exitCode: number;
  dispose(): void;
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

export function listenForCancellation(proc: NodeJS.Process = process): Cancellation {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (received !== undefined) proc.exit(128 + (signalNumbers[name] ?? 15));
    received = name;
    controller.abort(new CanceledError(name));
  };
  proc.on("SIGTERM", onSignal);
  proc.on("SIGINT", onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return 128 + (signalNumbers[received ?? "SIGTERM"] ?? 15);
    },
    dispose() {
      proc.off("SIGTERM", onSignal);
      proc.off("SIGINT", onSignal);
    },
  };
}

export class CanceledError extends Error {
  constructor(signalName: string) {
    super(`canceled by ${signalName}`);
    this.name = "AbortError";
  }
}
