import type { OpenAPIObject } from '@nestjs/swagger';

type Schema = Record<string, unknown>;

const REF_PREFIX = '#/components/schemas/';

/**
 * Marks every schema a request body refers to (and the schemas those refer to) with
 * `additionalProperties: false`, as the validation pipe enforces it (`forbidNonWhitelisted`): a
 * generated client then refuses the unknown field itself, rather than sending e.g. a whole GET answer
 * back as a PATCH and meeting a 400. Free-form members (a source's `config`) say
 * `additionalProperties: true` on their own and keep it.
 */
export function closeRequestSchemas(document: OpenAPIObject): void {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const pending: unknown[] = [];
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path) as Array<{ requestBody?: { content?: Schema } }>) {
      for (const media of Object.values(operation?.requestBody?.content ?? {})) {
        pending.push((media as { schema?: unknown }).schema);
      }
    }
  }
  const closed = new Set<string>();
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    const ref = (node as Schema).$ref;
    if (typeof ref === 'string' && ref.startsWith(REF_PREFIX)) {
      const name = ref.slice(REF_PREFIX.length);
      const target = schemas[name];
      if (!target || closed.has(name)) continue;
      closed.add(name);
      if (target.type === 'object' || target.properties) target.additionalProperties ??= false;
      pending.push(...Object.values((target.properties ?? {}) as Schema));
      continue;
    }
    pending.push(...Object.values(node as Schema));
  }
}
