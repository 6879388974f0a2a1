import assert from "node:assert/strict";
import { test } from "node:test";
import { LockConflictError, type LockSettings, listLocks, RepositoryLock } from "../../../src/repository/locks.ts";
import { openRepository } from "../../../src/repository/open.ts";
import { FAST, newRepository, PASSWORD, random, streamOf } from "./helpers.ts";

const settings = (now: () => number, waitMs = 0): LockSettings => ({
  now,
  staleAfterMs: 60_000,
  settleMs: 0,
  waitMs,
  pollMs: 10,
});

test("writers wait for an exclusive lock and go on once it is released", async (t) => {
  const { store } = await newRepository(t);
  const exclusive = await RepositoryLock.acquire(store, "exclusive", "maintenance", settings(Date.now));
  const impatient = await openRepository(store, PASSWORD, { ...FAST, lockWaitMs: 0 });
  t.after(() => impatient.close());
  await assert.rejects(impatient.writeObject(streamOf(random(10))), (err: unknown) => {
    assert.ok(err instanceof LockConflictError);
    assert.match(err.message, /exclusive lock of .* pid \d+ \(maintenance\)/);
    return true;
  });
  const patient = await openRepository(store, PASSWORD, { ...FAST, lockWaitMs: 5000 });
  t.after(() => patient.close());
  setTimeout(() => void exclusive.release(), 50);
  const ref = await patient.writeObject(streamOf(random(10)));
  assert.equal(ref.size, 10);
});

test("a lock not refreshed within the stale time blocks nobody; shared locks do not block each other", async (t) => {
  const { store } = await newRepository(t);
  let now = 1_000_000;
  const clock = () => now;
  const dead = await RepositoryLock.acquire(store, "shared", "backup", settings(clock));
  const alive = await RepositoryLock.acquire(store, "shared", "backup", settings(clock));
  await assert.rejects(RepositoryLock.acquire(store, "exclusive", "maintenance", settings(clock)), LockConflictError);
  now += 61_000;
  await alive.refresh();
  assert.equal((await listLocks(store, settings(clock))).stale.length, 1);
  await assert.rejects(RepositoryLock.acquire(store, "exclusive", "maintenance", settings(clock)), LockConflictError);
  await alive.release();
  const exclusive = await RepositoryLock.acquire(store, "exclusive", "maintenance", settings(clock));
  await exclusive.release();
  await dead.release();
  assert.deepEqual(await listLocks(store, settings(clock)), { live: [], stale: [] });
});

test("a lock object that is not a lock record holds off an exclusive lock until stale, then is removed", async (t) => {
  const { store } = await newRepository(t);
  await store.put("locks/000000000000000000000001", Buffer.from("not json"));
  await store.put("locks/000000000000000000000002", Buffer.from("{}"));
  const fresh = await listLocks(store, settings(Date.now));
  assert.equal(fresh.live.length, 2);
  assert.ok(fresh.live.every((l) => l.record.kind === "shared" && l.record.purpose === "unreadable lock object"));
  await assert.rejects(
    RepositoryLock.acquire(store, "exclusive", "maintenance", settings(Date.now)),
    /unreadable lock object/,
  );
  // An hour later both are stale: they block nothing, and maintenance's sweep of stale locks removes them.
  const later = await listLocks(
    store,
    settings(() => Date.now() + 3600_000),
  );
  assert.deepEqual(later.live, []);
  assert.equal(later.stale.length, 2);
});
