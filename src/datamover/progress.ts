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
  readonly #listener: ProgressListener | undefined;
  readonly #intervalMs: number;
  readonly #now: () => number;

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

  /** Reports the final figures regardless of the throttle. */
  finish(): void {
    this.#lastReport = this.#now();
    this.#listener?.(this.snapshot);
  }

  #maybeReport(): void {
    if (!this.#listener) return;
    const now = this.#now();
    if (now - this.#lastReport < this.#intervalMs) return;
    this.#lastReport = now;
    this.#listener(this.snapshot);
  }
}
