/**
 * JSON Schema (draft-07) of the policy kinds. This object is the single source: the loader validates with it and
 * policies/schema/backup-policy.schema.json is written from it (`node src/api/policy/write-schema.ts`).
 */
import { labelSelectorSchema } from "../label-selector-schema.ts";
import { policyApiVersion, policyKinds } from "./types.ts";

const nonEmptyString = { type: "string", minLength: 1 } as const;
/** Longest CEL expression accepted: a policy is configuration, not a program. */
export const maxExpressionLength = 5000;
const celExpression = { type: "string", minLength: 1, maxLength: maxExpressionLength } as const;
const identifier = { type: "string", pattern: "^[A-Za-z_][A-Za-z0-9_]*$", maxLength: 63 } as const;
const dnsName = { type: "string", pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength: 253 } as const;

const namedExpression = {
  type: "object",
  additionalProperties: false,
  required: ["name", "expression"],
  properties: { name: identifier, expression: celExpression },
} as const;

const uniqueNames = (item: object) => ({ type: "array", items: item, maxItems: 64 }) as const;

export const policySchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://skiff.dev/schemas/policy.skiff.dev/v1alpha1/backup-policy.json",
  title: "BackupPolicy / ClusterBackupPolicy (policy.skiff.dev/v1alpha1)",
  type: "object",
  additionalProperties: false,
  required: ["apiVersion", "kind", "metadata", "spec"],
  properties: {
    apiVersion: { const: policyApiVersion },
    kind: { enum: [...policyKinds] },
    metadata: {
      type: "object",
      required: ["name"],
      properties: {
        name: dnsName,
        namespace: dnsName,
        labels: { type: "object", additionalProperties: { type: "string" } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
      },
    },
    spec: {
      type: "object",
      additionalProperties: false,
      required: ["match"],
      properties: {
        precedence: { type: "integer", minimum: -1000000, maximum: 1000000 },
        failurePolicy: { enum: ["Fail", "Ignore"] },
        match: {
          type: "object",
          additionalProperties: false,
          required: ["resources"],
          properties: {
            resources: {
              type: "array",
              minItems: 1,
              items: {
                type: "object",
                additionalProperties: false,
                required: ["group", "kinds"],
                properties: {
                  group: { type: "string" },
                  kinds: { type: "array", minItems: 1, items: nonEmptyString },
                  subresources: { type: "array", minItems: 1, items: { type: "string" } },
                },
              },
            },
            operations: {
              type: "array",
              minItems: 1,
              items: { enum: ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"] },
            },
            namespaceSelector: labelSelectorSchema,
            objectSelector: labelSelectorSchema,
            excludedNamespaces: { type: "array", items: dnsName },
          },
        },
        matchConditions: uniqueNames(namedExpression),
        params: {
          type: "object",
          additionalProperties: false,
          properties: {
            configMapRef: {
              type: "object",
              additionalProperties: false,
              required: ["name"],
              properties: { name: dnsName, namespace: dnsName, key: nonEmptyString },
            },
            resourceRef: {
              type: "object",
              additionalProperties: false,
              required: ["apiVersion", "kind", "name"],
              properties: { apiVersion: nonEmptyString, kind: nonEmptyString, name: dnsName, namespace: dnsName },
            },
            notFoundAction: { enum: ["Allow", "Deny"] },
          },
          oneOf: [{ required: ["configMapRef"] }, { required: ["resourceRef"] }],
        },
        variables: uniqueNames(namedExpression),
        validate: uniqueNames({
          type: "object",
          additionalProperties: false,
          required: ["name", "expression"],
          properties: {
            name: identifier,
            expression: celExpression,
            message: { type: "string", maxLength: 1024 },
            messageExpression: celExpression,
            action: { enum: ["Deny", "Warn", "Audit"] },
          },
        }),
        mutate: uniqueNames({
          type: "object",
          additionalProperties: false,
          required: ["name", "patch"],
          properties: {
            name: identifier,
            when: celExpression,
            patch: {
              type: "array",
              minItems: 1,
              maxItems: 64,
              items: {
                type: "object",
                additionalProperties: false,
                required: ["op", "path"],
                properties: {
                  op: { enum: ["add", "replace", "remove", "test"] },
                  path: { type: "string", pattern: "^(/.*)?$" },
                  value: {},
                  valueExpression: celExpression,
                },
                allOf: [
                  { not: { required: ["value", "valueExpression"] } },
                  {
                    if: { properties: { op: { enum: ["add", "replace", "test"] } } },
                    // biome-ignore lint/suspicious/noThenProperty: JSON Schema keyword
                    then: { anyOf: [{ required: ["value"] }, { required: ["valueExpression"] }] },
                  },
                ],
              },
            },
          },
        }),
      },
    },
  },
} as const;
