import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "../../../src/admission/metrics.ts";

describe("Prometheus registry", () => {
  it("renders counters with escaped labels", () => {
    const registry = new Registry();
    const c = registry.register(new Counter("x_total", "X.", ["route", "msg"]));
    c.inc({ route: "/mutate", msg: 'a "quoted"\nline\\' });
    c.inc({ route: "/mutate", msg: 'a "quoted"\nline\\' }, 2);
    assert.equal(c.get({ route: "/mutate", msg: 'a "quoted"\nline\\' }), 3);
    assert.equal(
      registry.render(),
      '# HELP x_total X.\n# TYPE x_total counter\nx_total{route="/mutate",msg="a \\"quoted\\"\\nline\\\\"} 3\n',
    );
  });

  it("renders cumulative histogram buckets, sum and count", () => {
    const registry = new Registry();
    const h = registry.register(new Histogram("d_seconds", "D.", ["route"], [0.1, 0.5, 1]));
    for (const v of [0.05, 0.2, 0.2, 0.7, 3]) h.observe({ route: "/v" }, v);
    const text = registry.render();
    assert.match(text, /d_seconds_bucket\{route="\/v",le="0.1"\} 1\n/);
    assert.match(text, /d_seconds_bucket\{route="\/v",le="0.5"\} 3\n/);
    assert.match(text, /d_seconds_bucket\{route="\/v",le="1"\} 4\n/);
    assert.match(text, /d_seconds_bucket\{route="\/v",le="\+Inf"\} 5\n/);
    assert.match(text, /d_seconds_sum\{route="\/v"\} 4.15/);
    assert.match(text, /d_seconds_count\{route="\/v"\} 5\n/);
  });

  it("replaces gauge series on reset and refuses duplicate names", () => {
    const registry = new Registry();
    const g = registry.register(new Gauge("errors", "E.", ["source"]));
    g.set({ source: "a.yaml" }, 2);
    g.reset();
    g.set({ source: "b.yaml" }, 1);
    assert.doesNotMatch(registry.render(), /a\.yaml/);
    assert.match(registry.render(), /errors\{source="b.yaml"\} 1/);
    assert.throws(() => registry.register(new Gauge("errors", "again", [])), /registered twice/);
  });
});
