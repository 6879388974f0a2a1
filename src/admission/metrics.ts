/**
 * A small Prometheus registry (text exposition format 0.0.4). Counters, gauges and histograms with fixed
 * label names; series are kept in a Map keyed by the joined label values so an observation on the hot path
 * is one Map lookup and a few additions. Label values come from a bounded set (routes, results, policy
 * names), so memory stays bounded.
 */

type Labels = Record<string, string>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }
  protected valuesOf(labels: Labels): string[] {
    return this.labelNames.map((n) => labels[n] ?? "");
  }
  abstract render(): string;
}

export class Counter extends Metric {
  private readonly series = new Map<string, { values: string[]; count: number }>();
  inc(labels: Labels = {}, by = 1): void {
    const values = this.valuesOf(labels);
    const key = values.join("\u0000");
    const entry = this.series.get(key);
    if (entry) entry.count += by;
    else this.series.set(key, { values, count: by });
  }
  get(labels: Labels = {}): number {
    return this.series.get(this.valuesOf(labels).join("\u0000"))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { values, count } of this.series.values()) {
      lines.push(`${this.name}${labelText(this.labelNames, values)} ${count}`);
    }
    return lines.join("\n");
  }
}

export class Gauge extends Metric {
  private readonly series = new Map<string, { values: string[]; value: number }>();
  set(labels: Labels, value: number): void {
    const values = this.valuesOf(labels);
    this.series.set(values.join("\u0000"), { values, value });
  }
  /** Replaces every series at once (e.g. the current load errors per source). */
  reset(): void {
    this.series.clear();
  }
  get(labels: Labels = {}): number | undefined {
    return this.series.get(this.valuesOf(labels).join("\u0000"))?.value;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { values, value } of this.series.values()) {
      lines.push(`${this.name}${labelText(this.labelNames, values)} ${value}`);
    }
    return lines.join("\n");
  }
}

export class Histogram extends Metric {
  private readonly buckets: readonly number[];
  private readonly series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, value: number): void {
    const values = this.valuesOf(labels);
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    // Buckets are stored non-cumulatively and summed on render: one increment per observation.
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    if (i < this.buckets.length) entry.counts[i] = (entry.counts[i] as number) + 1;
    entry.sum += value;
    entry.count += 1;
  }
  count(labels: Labels = {}): number {
    return this.series.get(this.valuesOf(labels).join("\u0000"))?.count ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { values, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += counts[i] as number;
        lines.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${le}"`)} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, values)} ${sum}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, values)} ${count}`);
    }
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<T extends Metric>(metric: T): T {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The webhook's metrics. One instance per server, so tests and the bench never share counters. */
export interface AdmissionMetrics {
  registry: Registry;
  requests: Counter;
  latency: Histogram;
  policyResults: Counter;
  policyErrors: Counter;
  policyLoadErrors: Gauge;
  policiesLoaded: Gauge;
  certificateExpiry: Gauge;
}

export function createAdmissionMetrics(): AdmissionMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: registry.register(
      new Counter(
        "skiff_admission_requests_total",
        "AdmissionReview requests by route, result (allowed, denied, patched, error, rejected) and HTTP code.",
        ["route", "result", "code"],
      ),
    ),
    latency: registry.register(
      new Histogram(
        "skiff_admission_request_duration_seconds",
        "Time from the request body being read to the response being written.",
        ["route"],
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      ),
    ),
    policyResults: registry.register(
      new Counter("skiff_policy_results_total", "Rule outcomes per policy.", ["policy", "outcome", "action"]),
    ),
    policyErrors: registry.register(
      new Counter("skiff_policy_evaluation_errors_total", "Rules whose evaluation failed, per policy.", ["policy"]),
    ),
    policyLoadErrors: registry.register(
      new Gauge("skiff_policy_load_errors", "Policy documents that failed to load, per source.", ["source"]),
    ),
    policiesLoaded: registry.register(
      new Gauge("skiff_policies_loaded", "Policies currently compiled and in effect.", []),
    ),
    certificateExpiry: registry.register(
      new Gauge("skiff_certificate_expiry_timestamp_seconds", "notAfter of the serving certificate and CA in use.", [
        "certificate",
      ]),
    ),
  };
}
