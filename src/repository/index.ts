/**
 * The repository's entry points. The data mover and the CLI import from here only.
 */

export { DamagedIndexFileError } from "./blob-store.ts";
export { NotARepositoryError, UnsupportedFormatError, WrongPasswordError } from "./config.ts";
export { IntegrityError } from "./crypto.ts";
export { LockConflictError } from "./locks.ts";
export { type MaintenanceOptions, type MaintenanceReport, runMaintenance } from "./maintenance.ts";
export {
  type InitOptions,
  initRepository,
  openRepository,
  RepositoryExistsError,
  type RepositoryOptions,
} from "./open.ts";
export { type ChangePasswordOptions, changePassword } from "./password.ts";
export { type RepairIndexOptions, type RepairIndexReport, repairIndex } from "./repair-index.ts";
export { MissingBlobError, SkiffRepository } from "./repository.ts";
export type * from "./types.ts";
export { type VerifyOptions, type VerifyProblem, type VerifyReport, verifyRepository } from "./verify.ts";
