/**
 * Repository locks, as objects under `locks/`. Writers hold shared locks; the deleting phase of full
 * maintenance holds an exclusive one. A lock records when it was last refreshed; a lock not refreshed for
 * `staleAfterMs` belongs to a dead process and is ignored (and removed by maintenance), so a crash never blocks
 * the repository for long. Object stores have no compare-and-swap across keys, so taking a lock is
 * write-then-recheck: after writing its own lock, a taker looks again and backs off if a conflicting lock
 * appeared meanwhile.
 */

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { ObjectNotFoundError, type ObjectStore } from "../objectstore/types.ts";

export const LOCK_PREFIX = "locks/";

export interface LockRecord {
  kind: "shared" | "exclusive";
  hostname: string;
  pid: number;
  createdMs: number;
  refreshedMs: number;
  purpose: string;
}

export interface LockSettings {
  now: () => number;
  staleAfterMs: number;
  /** How long to wait between writing a lock and checking for conflicts (lets racing takers become visible). */
  settleMs: number;
  /** How long a writer waits for an exclusive lock to go away before failing. */
  waitMs: number;
  pollMs: number;
}

export class LockConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LockConflictError";
  }
}

export interface LiveLock {
  key: string;
  record: LockRecord;
}

export async function listLocks(
  store: ObjectStore,
  settings: LockSettings,
): Promise<{ live: LiveLock[]; stale: string[] }> {
  const live: LiveLock[] = [];
  const stale: string[] = [];
  for await (const info of store.list(LOCK_PREFIX)) {
    let body: Uint8Array;
    try {
      body = await store.get(info.key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) continue; // released meanwhile
      throw err;
    }
    const record = parseLockRecord(body, info.modified);
    if (settings.now() - record.refreshedMs > settings.staleAfterMs) stale.push(info.key);
    else live.push({ key: info.key, record });
  }
  return { live, stale };
}

/**
 * A lock object's record. One that is not a lock record (altered, or written by something else) counts as a
 * shared lock refreshed when the object was written: it holds off an exclusive lock until it is stale, like any
 * lock of a process that may still run, and maintenance then removes it. Read as nothing, it would stay forever;
 * read with missing times, it would never go stale.
 */
export function parseLockRecord(body: Uint8Array, writtenMs: number): LockRecord {
  let parsed: Partial<LockRecord> | undefined;
  try {
    parsed = JSON.parse(Buffer.from(body).toString("utf8")) as Partial<LockRecord>;
  } catch {}
  const valid =
    parsed !== undefined &&
    parsed !== null &&
    (parsed.kind === "shared" || parsed.kind === "exclusive") &&
    Number.isFinite(parsed.refreshedMs) &&
    Number.isFinite(parsed.createdMs);
  if (valid) return parsed as LockRecord;
  return {
    kind: "shared",
    hostname: "unknown",
    pid: 0,
    createdMs: writtenMs,
    refreshedMs: writtenMs,
    purpose: "unreadable lock object",
  };
}

function describeLock(l: LiveLock): string {
  return `${l.record.kind} lock of ${l.record.hostname} pid ${l.record.pid} (${l.record.purpose})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RepositoryLock {
  readonly key: string;
  private readonly store: ObjectStore;
  private readonly settings: LockSettings;
  private readonly record: LockRecord;
  private timer: NodeJS.Timeout | undefined;
  private released = false;

  private constructor(store: ObjectStore, settings: LockSettings, record: LockRecord) {
    this.store = store;
    this.settings = settings;
    this.record = record;
    this.key = `${LOCK_PREFIX}${randomBytes(12).toString("hex")}`;
  }

  /** Takes a lock, waiting (shared) or failing (exclusive) while a conflicting live lock exists. */
  static async acquire(
    store: ObjectStore,
    kind: "shared" | "exclusive",
    purpose: string,
    settings: LockSettings,
  ): Promise<RepositoryLock> {
    const now = settings.now();
    const lock = new RepositoryLock(store, settings, {
      kind,
      hostname: hostname(),
      pid: process.pid,
      createdMs: now,
      refreshedMs: now,
      purpose,
    });
    const deadline = now + (kind === "shared" ? settings.waitMs : 0);
    for (;;) {
      const conflict = await lock.findConflict();
      if (conflict === undefined) {
        await lock.write();
        // Only the exclusive taker waits before rechecking: a shared taker that listed before an exclusive
        // lock appeared has written its own lock long before the exclusive taker looks again.
        if (kind === "exclusive" && settings.settleMs > 0) await sleep(settings.settleMs);
        const late = await lock.findConflict();
        if (late === undefined) break;
        await store.delete(lock.key);
        if (kind === "exclusive" || settings.now() >= deadline) {
          throw new LockConflictError(`repository ${store.describe} is in use: ${describeLock(late)}`);
        }
      } else if (kind === "exclusive" || settings.now() >= deadline) {
        throw new LockConflictError(`repository ${store.describe} is in use: ${describeLock(conflict)}`);
      }
      await sleep(settings.pollMs);
    }
    lock.timer = setInterval(() => void lock.refresh().catch(() => {}), Math.max(1000, settings.staleAfterMs / 4));
    lock.timer.unref();
    return lock;
  }

  private async findConflict(): Promise<LiveLock | undefined> {
    const { live } = await listLocks(this.store, this.settings);
    return live.find((l) => l.key !== this.key && (this.record.kind === "exclusive" || l.record.kind === "exclusive"));
  }

  private async write(): Promise<void> {
    await this.store.put(this.key, Buffer.from(JSON.stringify(this.record), "utf8"));
  }

  /** Renews the lock; called on a timer and before committing a snapshot. */
  async refresh(): Promise<void> {
    if (this.released) return;
    this.record.refreshedMs = this.settings.now();
    await this.write();
  }

  /** Fails when an exclusive lock appeared (e.g. our lock went stale while the process was paused). */
  async checkStillValid(): Promise<void> {
    await this.refresh();
    const conflict = await this.findConflict();
    if (conflict !== undefined) {
      throw new LockConflictError(`lost the repository lock to the ${describeLock(conflict)}`);
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.store.delete(this.key);
  }
}
