type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `patch` applied to `target` as RFC 7396 says: a key set to null is removed, an object is merged key
 * by key, anything else replaces what was there.
 */
export function applyMergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const merged: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete merged[key];
    else if (isObject(value)) merged[key] = applyMergePatch(isObject(target[key]) ? target[key] : {}, value);
    else merged[key] = value;
  }
  return merged;
}
