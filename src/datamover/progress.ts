/**
 * Progress of one data path run, in Velero's terms: bytes done out of an estimated total. The meter counts and
 * throttles; rendering (a bar on a terminal, JSON lines otherwise) lives with the CLI.
 */
export interface Progress {
  bytesDone: number;
  totalBytes: number;
}

export type ProgressListener = (progress: Progress) => void;

export interface ProgressMeterOptions {
  onProgress?: ProgressListener | undefined;
  /** Minimum time between two reports (the final report is always made). */
  intervalMs?: number;
  now?: () => number;
}

export class ProgressMeter {
  #bytesDone = 0;
  #totalBytes = 0;
  #lastReport = Number.NEGATIVE_INFINITY;
  #lastReported: Progress | undefined;
  readonly #listener: ProgressListener | undefined;
  readonly #intervalMs: number;
  readonly #now: () => number;
  /** A report held back by the throttle is made when the interval ends, so a stall still shows the latest bytes. */
  #trailing: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ProgressMeterOptions = {}) {
    this.#listener = options.onProgress;
    this.#intervalMs = options.intervalMs ?? 500;
    this.#now = options.now ?? Date.now;
  }

  get snapshot(): Progress {
    // An estimate can fall short (files grew during the walk); never report more done than total.
    return { bytesDone: this.#bytesDone, totalBytes: Math.max(this.#totalBytes, this.#bytesDone) };
  }

  setTotal(totalBytes: number): void {
    this.#totalBytes = totalBytes;
    this.#maybeReport();
  }

  add(bytes: number): void {
    this.#bytesDone += bytes;
    this.#maybeReport();
  }

  /** Reports the final figures regardless of the throttle (unless they were just reported). */
  finish(): void {
    this.#cancelTrailing();
    const last = this.#lastReported;
    const now = this.snapshot;
    if (last !== undefined && last.bytesDone === now.bytesDone && last.totalBytes === now.totalBytes) return;
    this.#report(now);
  }

  #maybeReport(): void {
    if (!this.#listener) return;
    const now = this.#now();
    const wait = this.#intervalMs - (now - this.#lastReport);
    if (wait <= 0) {
      this.#report(this.snapshot);
    } else if (this.#trailing === undefined) {
      this.#trailing = setTimeout(() => {
        this.#trailing = undefined;
        this.#report(this.snapshot);
      }, wait);
      // Never keeps the process alive on its own.
      this.#trailing.unref?.();
    }
  }

  /** Drops a pending trailing report (the run ended or failed). */
  stop(): void {
    this.#cancelTrailing();
  }

  #cancelTrailing(): void {
    if (this.#trailing !== undefined) clearTimeout(this.#trailing);
    this.#trailing = undefined;
  }

  #report(progress: Progress): void {
    this.#cancelTrailing();
    this.#lastReport = this.#now();
    this.#lastReported = progress;
    this.#listener?.(progress);
  }
}
