import assert from "node:assert/strict";
import { test } from "node:test";
import { compileExpression } from "../../../src/policy/cel/environment.ts";
import { vetRegex } from "../../../src/policy/cel/regex.ts";

const accepted = [
  "^[a-z]+(-[a-z0-9]+)*$",
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
  "^(ab|cd)*$",
  "^(\\d{1,3}\\.){3}\\d{1,3}$",
  "[(]+x",
  "^--uploader-type=(restic|kopia)$",
];
const rejected = [
  "^(a+)+$",
  "(\\w+\\s?)+$",
  "^((a|b)*)*$",
  "(x+x+)+y",
  "^(?:a*)+$",
  "(\\d+)\\1",
  "(?=x)y",
  "(?<!x)y",
  "(unclosed",
];

for (const pattern of accepted) test(`regex accepted: ${pattern}`, () => assert.equal(vetRegex(pattern), undefined));
for (const pattern of rejected) test(`regex rejected: ${pattern}`, () => assert.ok(vetRegex(pattern)));

test("literal patterns are vetted when the policy compiles", () => {
  const result = compileExpression("object.metadata.name.matches('^(a+)+$')", "bool");
  assert.equal(result.ok, false);
  assert.match(result.ok ? "" : result.error, /exponential time/);
  assert.equal(compileExpression("object.metadata.name.matches('^[a-z]+(-[a-z0-9]+)*$')", "bool").ok, true);
});
