/**
 * The one place that pins the versions of the real servers the tests run against.
 * The binary cache is keyed on these, so bumping one rebuilds only that component.
 */
export const versions = {
  /** Kubernetes release; the staging modules (k8s.io/api, …) are pinned to the matching v0.N.P. */
  kubernetes: "v1.36.3",
  /** etcd release recommended for that Kubernetes minor. */
  etcd: "v3.6.16",
  /**
   * S3 server. MinIO's module is refused by this project's Go module proxy (AGPL), so the tests use
   * Versity's S3 gateway (Apache-2.0) over a POSIX directory: a real S3 protocol implementation.
   */
  versitygw: "v1.8.0",
} as const;
