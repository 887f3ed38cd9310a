import type { OpenAPIObject } from '@nestjs/swagger';

type Schema = Record<string, unknown>;
type Operation = { requestBody?: { content?: Schema }; responses?: Record<string, { content?: Schema }> };

const REF_PREFIX = '#/components/schemas/';

/**
 * Marks every schema a request body refers to (and the schemas those refer to) with
 * `additionalProperties: false`, as the validation pipe enforces it (`forbidNonWhitelisted`): a
 * generated client then refuses the unknown field itself, rather than sending e.g. a whole GET answer
 * back as a PATCH and meeting a 400. Schemas answers use too are left open, so a field added to an
 * answer does not break clients that validate answers strictly; free-form members (a source's
 * `config`) say `additionalProperties: true` on their own and keep it.
 */
export function closeRequestSchemas(document: OpenAPIObject): void {
  const schemas = (document.components?.schemas ?? {}) as Record<string, Schema>;
  const operations = Object.values(document.paths).flatMap((path) => Object.values(path) as Operation[]);
  const mediaSchemas = (content: Schema | undefined) =>
    Object.values(content ?? {}).map((media) => (media as { schema?: unknown }).schema);
  const answered = referencedSchemas(
    schemas,
    operations.flatMap((operation) =>
      Object.values(operation?.responses ?? {}).flatMap((response) => mediaSchemas(response?.content)),
    ),
  );
  const requested = referencedSchemas(
    schemas,
    operations.flatMap((operation) => mediaSchemas(operation?.requestBody?.content)),
  );
  for (const name of requested) {
    const schema = schemas[name]!;
    if (answered.has(name) || !(schema.type === 'object' || schema.properties)) continue;
    schema.additionalProperties ??= false;
  }
}

/** The names of the component schemas `roots` refer to, directly or through one another. */
function referencedSchemas(schemas: Record<string, Schema>, roots: unknown[]): Set<string> {
  const found = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    const ref = (node as Schema).$ref;
    if (typeof ref === 'string' && ref.startsWith(REF_PREFIX)) {
      const name = ref.slice(REF_PREFIX.length);
      if (!schemas[name] || found.has(name)) continue;
      found.add(name);
      pending.push(schemas[name]);
      continue;
    }
    pending.push(...Object.values(node as Schema));
  }
  return found;
}
