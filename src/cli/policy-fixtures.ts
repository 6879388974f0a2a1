/**
 * Fixture triples for `skiff policy test`: policy files + cluster objects + request cases with expected verdicts,
 * warnings and patched objects. A fixture file (test.yaml or *.test.yaml) looks like:
 *
 *   policies: [../../backup-pvc.yaml]        # files or directories, relative to the fixture file
 *   installNamespace: skiff                  # optional
 *   resources: [ {kind: ConfigMap, ...} ]    # what the cluster view holds (namespaces, params, claims)
 *   cases:
 *     - name: read-only class gets ReadOnlyMany
 *       operation: CREATE                    # default CREATE
 *       object: {...}                        # or objectFile: pvc.yaml; oldObject / oldObjectFile likewise
 *       expect:
 *         allowed: true
 *         messageContains: [...]             # substrings of the denial message
 *         warnings: [...]                    # exact list (warningsContain: substrings)
 *         auditAnnotations: {...}
 *         patched: {...}                     # the object after mutation (unchanged: true for none)
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  compilePolicySet,
  formatLoadError,
  type KubeObject,
  loadPolicyDirectory,
  type PolicyDocument,
  parsePolicyDocuments,
  staticClusterView,
} from "../policy/index.ts";
import { deepEqual } from "../policy/patch.ts";
import { buildRequest, type RequestInput, simulateAdmission } from "../policy/simulate.ts";

export interface FixtureCase {
  name: string;
  operation?: RequestInput["operation"];
  object?: KubeObject | null;
  objectFile?: string;
  oldObject?: KubeObject | null;
  oldObjectFile?: string;
  namespace?: string;
  subResource?: string;
  dryRun?: boolean;
  expect: {
    allowed?: boolean;
    messageContains?: string[];
    warnings?: string[];
    warningsContain?: string[];
    auditAnnotations?: Record<string, string>;
    patched?: unknown;
    unchanged?: boolean;
  };
}

export interface FixtureFile {
  policies: string[];
  installNamespace?: string;
  resources?: KubeObject[];
  resourceFiles?: string[];
  cases: FixtureCase[];
}

export interface CaseReport {
  file: string;
  name: string;
  passed: boolean;
  failures: string[];
}

export interface FixtureReport {
  cases: CaseReport[];
  /** Files that could not be loaded at all (usage/load errors). */
  loadErrors: string[];
}

export async function findFixtureFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  const found: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) found.push(...(await findFixtureFiles(full)));
    else if (entry.name === "test.yaml" || entry.name.endsWith(".test.yaml")) found.push(full);
  }
  return found;
}

async function readYamlObjects(path: string): Promise<unknown[]> {
  const docs = parseAllDocuments(await readFile(path, "utf8"));
  if (!Array.isArray(docs)) return [];
  return docs.map((d) => d.toJS()).filter((v) => v !== null && v !== undefined);
}

export async function loadPolicies(paths: string[]): Promise<{ policies: PolicyDocument[]; errors: string[] }> {
  const policies: PolicyDocument[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    const info = await stat(path);
    const loaded = info.isDirectory()
      ? await loadPolicyDirectory(path)
      : parsePolicyDocuments(await readFile(path, "utf8"), path);
    policies.push(...loaded.policies);
    errors.push(...loaded.errors.map(formatLoadError));
  }
  return { policies, errors };
}

export async function runFixtureFile(file: string): Promise<FixtureReport> {
  const base = dirname(file);
  const [fixture] = (await readYamlObjects(file)) as FixtureFile[];
  if (!fixture || !Array.isArray(fixture.cases) || !Array.isArray(fixture.policies)) {
    return { cases: [], loadErrors: [`${file}: needs "policies" and "cases" lists`] };
  }
  const loaded = await loadPolicies(fixture.policies.map((p) => resolve(base, p)));
  const compiled = compilePolicySet(loaded.policies, { installNamespace: fixture.installNamespace ?? "skiff" });
  const loadErrors = [...loaded.errors, ...compiled.errors.map(formatLoadError)].map((e) => `${file}: ${e}`);
  if (loadErrors.length > 0) return { cases: [], loadErrors };
  const resources = [...(fixture.resources ?? [])];
  for (const extra of fixture.resourceFiles ?? []) {
    resources.push(...((await readYamlObjects(resolve(base, extra))) as KubeObject[]));
  }
  const view = staticClusterView(resources, { synthesizeNamespaces: true });
  const cases: CaseReport[] = [];
  for (const c of fixture.cases) {
    const object = c.objectFile
      ? (((await readYamlObjects(resolve(base, c.objectFile)))[0] as KubeObject) ?? null)
      : c.object;
    const oldObject = c.oldObjectFile
      ? (((await readYamlObjects(resolve(base, c.oldObjectFile)))[0] as KubeObject) ?? null)
      : c.oldObject;
    const request = buildRequest({
      ...(c.operation ? { operation: c.operation } : {}),
      object: object ?? null,
      oldObject: oldObject ?? null,
      ...(c.namespace ? { namespace: c.namespace } : {}),
      ...(c.subResource ? { subResource: c.subResource } : {}),
      ...(c.dryRun !== undefined ? { dryRun: c.dryRun } : {}),
    });
    const result = simulateAdmission(compiled.set, view, request);
    cases.push({ file, name: c.name, ...checkCase(c, object ?? null, result) });
  }
  return { cases, loadErrors: [] };
}

function checkCase(c: FixtureCase, object: unknown, result: ReturnType<typeof simulateAdmission>) {
  const failures: string[] = [];
  const expect = c.expect ?? {};
  const errors = [...result.mutate.results, ...result.validate.results].filter((r) => r.outcome === "error");
  if (expect.allowed !== undefined && expect.allowed !== result.allowed) {
    failures.push(
      `expected ${expect.allowed ? "allowed" : "denied"}, got ${result.allowed ? "allowed" : `denied: ${result.message}`}`,
    );
  }
  for (const e of errors) failures.push(`rule error: ${e.message}`);
  for (const part of expect.messageContains ?? []) {
    if (!(result.message ?? "").includes(part))
      failures.push(`message does not contain ${JSON.stringify(part)}: ${JSON.stringify(result.message ?? "")}`);
  }
  if (expect.warnings !== undefined && !deepEqual(expect.warnings, result.warnings)) {
    failures.push(`warnings differ:\n${diffText(expect.warnings, result.warnings)}`);
  }
  for (const part of expect.warningsContain ?? []) {
    if (!result.warnings.some((w) => w.includes(part)))
      failures.push(`no warning contains ${JSON.stringify(part)}: ${JSON.stringify(result.warnings)}`);
  }
  if (expect.auditAnnotations !== undefined && !deepEqual(expect.auditAnnotations, result.auditAnnotations)) {
    failures.push(`audit annotations differ:\n${diffText(expect.auditAnnotations, result.auditAnnotations)}`);
  }
  if (expect.patched !== undefined && !deepEqual(expect.patched, result.patched)) {
    failures.push(`patched object differs:\n${diffText(expect.patched, result.patched)}`);
  }
  if (expect.unchanged && !deepEqual(object, result.patched)) {
    failures.push(`expected no mutation, got:\n${diffText(object, result.patched)}`);
  }
  if (result.notIdempotent) failures.push("mutation is not idempotent: a second pass changed the object again");
  return { passed: failures.length === 0, failures };
}

/** A line diff of two values' JSON renderings ("-" expected, "+" actual), with a little context. */
export function diffText(expected: unknown, actual: unknown): string {
  const a = JSON.stringify(expected, null, 2).split("\n");
  const b = JSON.stringify(actual, null, 2).split("\n");
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, row[j + 1] as number);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`    ${a[i]}`);
      i++;
      j++;
    } else if (
      j < b.length &&
      (i >= a.length || ((lcs[i] as number[])[j + 1] as number) >= ((lcs[i + 1] as number[])[j] as number))
    ) {
      out.push(`  + ${b[j]}`);
      j++;
    } else {
      out.push(`  - ${a[i]}`);
      i++;
    }
  }
  // Keep changed lines and two lines of context around them.
  const keep = new Set<number>();
  out.forEach((line, k) => {
    if (!line.startsWith("    ")) for (let d = -2; d <= 2; d++) keep.add(k + d);
  });
  return out.filter((_, k) => keep.has(k)).join("\n");
}
