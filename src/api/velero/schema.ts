/**
 * A tiny builder for structural OpenAPI v3 schemas that also carries the TypeScript type of each schema.
 * The velero.io kinds are written once with it: the CRD manifests are generated from the schema values and the
 * TypeScript types are derived from them (TypeOf), so the two cannot drift apart.
 */

/** A schema node; `__type` exists only in the type system (never set) and records what the node describes. */
export interface Schema<T> {
  readonly __type?: T;
  readonly [keyword: string]: unknown;
}

export type TypeOf<S> = S extends Schema<infer T> ? T : never;

type Props = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** An object type whose `Required` keys are mandatory and the rest optional. */
export type ObjectOf<P extends Props, Required extends keyof P> = Simplify<
  { [K in Required]: TypeOf<P[K]> } & { [K in Exclude<keyof P, Required>]?: TypeOf<P[K]> }
>;

interface Common {
  description?: string;
  nullable?: boolean;
}

const withCommon = (schema: Record<string, unknown>, common: Common = {}) => ({
  ...(common.description ? { description: common.description } : {}),
  ...schema,
  ...(common.nullable ? { nullable: true } : {}),
});

export function string(common?: Common & { format?: "date-time" | "byte"; pattern?: string }): Schema<string> {
  const extra: Record<string, unknown> = {};
  if (common?.format) extra.format = common.format;
  if (common?.pattern) extra.pattern = common.pattern;
  return withCommon({ type: "string", ...extra }, common);
}

/** A Go metav1.Duration, e.g. "720h0m0s". */
export const duration = (description?: string) =>
  string({ description: description ?? "A duration such as 10m or 4h0m0s." });

/** A metav1.Time. */
export const timestamp = (description?: string, nullable = true) =>
  string({ description, format: "date-time", nullable });

export function enumOf<const V extends string>(values: readonly V[], common?: Common): Schema<V> {
  return withCommon({ type: "string", enum: [...values] }, common);
}

export function integer(common?: Common & { format?: "int32" | "int64"; minimum?: number }): Schema<number> {
  const extra: Record<string, unknown> = { format: common?.format ?? "int64" };
  if (common?.minimum !== undefined) extra.minimum = common.minimum;
  return withCommon({ type: "integer", ...extra }, common);
}

export function boolean(common?: Common): Schema<boolean> {
  return withCommon({ type: "boolean" }, common);
}

export function array<T>(items: Schema<T>, common?: Common & { minItems?: number }): Schema<T[]> {
  const extra: Record<string, unknown> = {};
  if (common?.minItems !== undefined) extra.minItems = common.minItems;
  return withCommon({ type: "array", items, ...extra }, common);
}

/** A list of strings; nullable because Go clients send a nil slice as null. */
export const strings = (description?: string) => array(string(), { description, nullable: true });

/** A map with string keys. */
export function mapOf<T>(values: Schema<T>, common?: Common): Schema<Record<string, T>> {
  return withCommon({ type: "object", additionalProperties: values }, common);
}

export const stringMap = (description?: string) => mapOf(string(), { description });

export function object<P extends Props, const R extends keyof P & string = never>(
  properties: P,
  options: Common & { required?: readonly R[]; atomic?: boolean } = {},
): Schema<ObjectOf<P, R>> {
  const schema: Record<string, unknown> = { type: "object", properties };
  if (options.required?.length) schema.required = [...options.required];
  if (options.atomic) schema["x-kubernetes-map-type"] = "atomic";
  return withCommon(schema, options);
}

/** An embedded object of any shape (for example a full Container in a restore hook). */
export function anyObject(description?: string): Schema<Record<string, unknown>> {
  return withCommon({ type: "object", "x-kubernetes-preserve-unknown-fields": true }, { description });
}

/** metav1.LabelSelector. */
export const labelSelector = (description?: string) =>
  object(
    {
      matchLabels: stringMap(),
      matchExpressions: array(
        object({ key: string(), operator: string(), values: strings() }, { required: ["key", "operator"] }),
      ),
    },
    { description, atomic: true, nullable: true },
  );

/** corev1.ObjectReference. */
export const objectReference = (description?: string) =>
  object(
    {
      apiVersion: string(),
      kind: string(),
      namespace: string(),
      name: string(),
      uid: string(),
      resourceVersion: string(),
      fieldPath: string(),
    },
    { description, atomic: true },
  );

/** corev1.SecretKeySelector. */
export const secretKeySelector = (description?: string) =>
  object({ name: string(), key: string(), optional: boolean() }, { description, required: ["key"], atomic: true });

/** corev1.TypedLocalObjectReference. */
export const typedLocalReference = (description?: string) =>
  object(
    { apiGroup: string({ nullable: true }), kind: string(), name: string() },
    { description, required: ["kind", "name"], atomic: true },
  );

/** Drops the type-only marker: what goes into a manifest. */
export function toJson(schema: Schema<unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}
