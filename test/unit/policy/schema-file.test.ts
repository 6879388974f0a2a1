import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseQuantity } from "../../../src/api/config/quantity.ts";
import { publishedSchemas, renderSchema, schemaFile } from "../../../src/api/policy/write-schema.ts";

test("the published schema files match the schemas in code", () => {
  for (const [name, schema] of Object.entries(publishedSchemas)) {
    const published = JSON.parse(readFileSync(schemaFile(name), "utf8"));
    assert.deepEqual(published, JSON.parse(renderSchema(schema)), `${name}: run node src/api/policy/write-schema.ts`);
  }
});

test("quantities parse exactly", () => {
  const table: [string, bigint, bigint][] = [
    ["500m", 1n, 2n],
    ["1Gi", 1073741824n, 1n],
    ["1.5", 3n, 2n],
    ["2e3", 2000n, 1n],
    ["-1k", -1000n, 1n],
  ];
  for (const [text, numerator, denominator] of table) {
    const q = parseQuantity(text);
    assert.ok("numerator" in q, text);
    assert.equal(q.numerator, numerator, text);
    assert.equal(q.denominator, denominator, text);
  }
  for (const bad of ["", "1.2.3", "lots", "1Qi", "1 Gi"]) assert.ok("error" in parseQuantity(bad), bad);
});
