/** API key scopes (contract §5). `admin` implies every other scope. */
export const SCOPES = ['admin', 'subscribe', 'publish'] as const;
export type Scope = (typeof SCOPES)[number];

export function grants(scopes: readonly string[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

/** The authenticated caller, attached to the request by the guard. */
export interface Principal {
  keyId: string;
  name: string;
  scopes: Scope[];
}
