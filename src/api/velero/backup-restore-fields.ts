/**
 * Schema fields that Velero's Backup and Restore share: the namespace and resource include/exclude lists of a
 * restore spec and of both kinds' hook selectors, and the hook counters in both statuses. Written once here so the
 * CRDs of the two kinds stay in step when Velero adds or changes one of them.
 */
import { integer, labelSelector, object, strings } from "./schema.ts";

/** includedNamespaces/excludedNamespaces/includedResources/excludedResources, as a restore spec and hooks carry them. */
export const namespaceAndResourceFilter = {
  includedNamespaces: strings(),
  excludedNamespaces: strings(),
  includedResources: strings(),
  excludedResources: strings(),
};

/** Which pods a backup or restore hook applies to: the namespace/resource filter plus a label selector. */
export const hookResourceSelector = {
  ...namespaceAndResourceFilter,
  labelSelector: labelSelector(),
};

/** status.hookStatus of a Backup or Restore. */
export const hookStatus = object(
  { hooksAttempted: integer({ format: "int32" }), hooksFailed: integer({ format: "int32" }) },
  { nullable: true },
);
