/**
 * Changing a repository's password. The password only wraps the master key in `config`, so a change rewrites
 * that one object (the only object ever rewritten in place) and nothing else: every pack, index file and
 * snapshot stays valid, and processes that already opened the repository keep working with the master key they
 * hold. The put is atomic (temporary file and rename, or one S3 PUT), so a reader sees the old config or the new
 * one, never a mix.
 */
import type { ObjectStore } from "../objectstore/types.ts";
import { CONFIG_KEY, type RepositoryConfig, readConfig, rewrapConfig, unwrapMasterKey } from "./config.ts";

export interface ChangePasswordOptions {
  /** scrypt cost for the new wrapping; default the repository's current one. */
  kdf?: { N: number; r: number; p: number };
}

export function configBody(config: RepositoryConfig): Buffer {
  return Buffer.from(`${JSON.stringify(config, null, 2)}\n`, "utf8");
}

/**
 * Re-wraps the master key under `newPassword`. Throws WrongPasswordError when `oldPassword` does not open the
 * repository, and an error when the config changed meanwhile (another password change won the race).
 */
export async function changePassword(
  store: ObjectStore,
  oldPassword: string,
  newPassword: string,
  options: ChangePasswordOptions = {},
): Promise<RepositoryConfig> {
  if (newPassword === oldPassword) throw new Error("the new password is the same as the current one");
  const config = await readConfig(store);
  const master = await unwrapMasterKey(config, oldPassword, store.describe);
  const next = await rewrapConfig(config, master, newPassword, options.kdf);
  // The only copy of the master key is about to be replaced: check the new wrapping opens before storing it.
  if (!(await unwrapMasterKey(next, newPassword, store.describe)).equals(master)) {
    throw new Error("the new password's key did not unwrap the master key; nothing was changed");
  }
  const current = await readConfig(store);
  if (current.masterKey !== config.masterKey) {
    throw new Error(`the password of ${store.describe} was changed meanwhile by another process; nothing was changed`);
  }
  await store.put(CONFIG_KEY, configBody(next));
  const stored = await readConfig(store);
  if (stored.masterKey !== next.masterKey) {
    throw new Error(
      `the password of ${store.describe} was changed at the same time by another process; its change won`,
    );
  }
  return next;
}
