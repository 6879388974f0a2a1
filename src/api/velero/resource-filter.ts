/**
 * The namespace and resource include/exclude lists that Velero repeats in backups, restores and their hook selectors.
 * Written once here so the CRDs of both kinds stay in step when Velero adds or changes a filter field.
 */
import { labelSelector, strings } from "./schema.ts";

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
