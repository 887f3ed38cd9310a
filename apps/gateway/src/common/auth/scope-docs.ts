import type { OpenAPIObject } from '@nestjs/swagger';
import { NO_KEY, SCOPE_EXTENSION } from './auth.decorators.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

type Operation = { security?: Array<Record<string, string[]>>; description?: string } & Record<
  string,
  unknown
>;

/**
 * Says on every operation which API key scope it needs, as the guard checks it: `RequireScope`'s, or
 * `admin` for the other keyed routes (an admin key passes every check), and no key at all for public
 * ones (`security: []`). HTTP bearer schemes carry no scopes in OpenAPI 3.0, so it is the
 * `x-herald-scope` extension and a line of the description; without it a generated client could not
 * tell which key a call takes.
 */
export function documentScopes(document: OpenAPIObject): void {
  for (const path of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = path[method] as Operation | undefined;
      if (!operation) continue;
      const declared = operation[SCOPE_EXTENSION] as string | undefined;
      if (declared === NO_KEY || (declared === undefined && !operation.security)) {
        delete operation[SCOPE_EXTENSION];
        operation.security = [];
        continue;
      }
      const scope = declared ?? 'admin';
      operation[SCOPE_EXTENSION] = scope;
      const needs =
        scope === 'admin'
          ? 'Needs an `admin` API key.'
          : `Needs an API key with scope \`${scope}\` (or \`admin\`).`;
      operation.description = operation.description ? `${needs}\n\n${operation.description}` : needs;
    }
  }
}
