/**
 * Reading policy documents: multi-document YAML, validated against the policy schema, with errors that name the
 * file, the line, the field and the problem. `loadPolicyDirectory` is the engine's only I/O.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { policySchema } from "../api/policy/schema.ts";
import type { PolicyDocument, PolicySource } from "../api/policy/types.ts";
import { escapePointer, validateAgainst } from "./json-schema.ts";

export interface PolicyLoadError {
  source: string;
  line?: number;
  /** JSON pointer of the field ("" for the whole document). */
  path: string;
  message: string;
}

export interface LoadedPolicies {
  policies: PolicyDocument[];
  errors: PolicyLoadError[];
}

/** Parses every document of a YAML text; documents that fail validation are reported and left out. */
export function parsePolicyDocuments(text: string, source: string): LoadedPolicies {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const policies: PolicyDocument[] = [];
  const errors: PolicyLoadError[] = [];
  if (!Array.isArray(documents)) {
    errors.push({ source, path: "", message: "not a YAML stream" });
    return { policies, errors };
  }
  documents.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        errors.push({ source, line: lineCounter.linePos(e.pos[0]).line, path: "", message: `YAML: ${e.message}` });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const lines: Record<string, number> = {};
    if (doc.contents) collectLines(doc.contents as Node, "", lines, lineCounter);
    const documentSource: PolicySource = {
      name: documents.length > 1 ? `${source}#${index + 1}` : source,
      origin: "file",
      lines,
    };
    const checked = validatePolicyDocument(value, documentSource);
    errors.push(...checked.errors);
    if (checked.policy) policies.push(checked.policy);
  });
  return { policies, errors };
}

/** Validates one policy object (from a file or from the cluster) against the schema. */
export function validatePolicyDocument(
  value: unknown,
  source: PolicySource,
): { policy?: PolicyDocument; errors: PolicyLoadError[] } {
  // The loader's `source` annotation is not part of the document.
  const document =
    value !== null && typeof value === "object" && "source" in value
      ? (({ source: _source, ...rest }) => rest)(value as PolicyDocument)
      : value;
  const problems = validateAgainst(policySchema, document);
  const errors = problems.map((p) => ({ ...locate(source, p.path), message: p.message }));
  const doc = document as PolicyDocument;
  if (problems.length === 0 && doc.kind === "BackupPolicy" && !doc.metadata.namespace) {
    errors.push({ ...locate(source, "/metadata"), message: "a BackupPolicy needs metadata.namespace" });
  }
  if (problems.length === 0 && doc.kind === "ClusterBackupPolicy" && doc.metadata.namespace) {
    errors.push({
      ...locate(source, "/metadata/namespace"),
      message: "a ClusterBackupPolicy is cluster-scoped: remove metadata.namespace",
    });
  }
  if (errors.length > 0) return { errors };
  return { policy: { ...doc, source }, errors };
}

/** Reads the .yaml/.yml files of a directory (not recursive), in name order. */
export async function loadPolicyDirectory(dir: string): Promise<LoadedPolicies> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => e.name)
    .sort();
  const result: LoadedPolicies = { policies: [], errors: [] };
  for (const name of files) {
    const path = join(dir, name);
    const parsed = parsePolicyDocuments(await readFile(path, "utf8"), path);
    result.policies.push(...parsed.policies);
    result.errors.push(...parsed.errors);
  }
  return result;
}

/** The error location for a JSON pointer: the line of the field, or of its nearest ancestor that has one. */
export function locate(
  source: PolicySource | undefined,
  path: string,
): { source: string; line?: number; path: string } {
  const name = source?.name ?? "<unknown>";
  const lines = source?.lines;
  if (!lines) return { source: name, path };
  let pointer = path;
  while (true) {
    const line = lines[pointer];
    if (line !== undefined) return { source: name, line, path };
    if (pointer === "") return { source: name, path };
    pointer = pointer.slice(0, pointer.lastIndexOf("/"));
  }
}

function collectLines(node: Node, pointer: string, lines: Record<string, number>, counter: LineCounter): void {
  if (node.range) lines[pointer] ??= counter.linePos(node.range[0]).line;
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const child = `${pointer}/${escapePointer(String(pair.key.value))}`;
      if (pair.key.range) lines[child] = counter.linePos(pair.key.range[0]).line;
      if (pair.value && typeof pair.value === "object") collectLines(pair.value as Node, child, lines, counter);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item && typeof item === "object") collectLines(item as Node, `${pointer}/${i}`, lines, counter);
    });
  }
}
