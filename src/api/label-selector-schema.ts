/**
 * JSON Schema of a Kubernetes metav1.LabelSelector, as policy documents and Skiff's ConfigMap payloads accept it:
 * one definition so both reject the same malformed selectors.
 */
export const labelSelectorSchema = {
  type: "object",
  additionalProperties: false,
  properties: {
    matchLabels: { type: "object", additionalProperties: { type: "string" } },
    matchExpressions: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["key", "operator"],
        properties: {
          key: { type: "string", minLength: 1 },
          operator: { enum: ["In", "NotIn", "Exists", "DoesNotExist"] },
          values: { type: "array", items: { type: "string" } },
        },
      },
    },
  },
} as const;
