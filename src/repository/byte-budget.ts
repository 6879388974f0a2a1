/**
 * A counting semaphore over bytes: bounds how much chunk data is in flight between the chunker and the packs,
 * which keeps memory flat however fast the source is. A single request larger than the budget is let through
 * alone, so it cannot deadlock.
 */
export class ByteBudget {
  private readonly limit: number;
  private used = 0;
  private readonly waiters: { bytes: number; go: () => void }[] = [];

  constructor(limitBytes: number) {
    this.limit = limitBytes;
  }

  async acquire(bytes: number): Promise<void> {
    if (this.waiters.length === 0 && (this.used + bytes <= this.limit || this.used === 0)) {
      this.used += bytes;
      return;
    }
    await new Promise<void>((go) => this.waiters.push({ bytes, go }));
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiters.length > 0) {
      const next = this.waiters[0]!;
      if (this.used + next.bytes > this.limit && this.used !== 0) break;
      this.waiters.shift();
      this.used += next.bytes;
      next.go();
    }
  }
}
