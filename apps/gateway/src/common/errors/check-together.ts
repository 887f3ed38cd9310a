import { HeraldException } from './herald-exception.js';

/**
 * Runs independent checks of one request and returns their results, or throws one 400 naming every
 * field that failed: thrown one by one, the first failure hid the others, and a client fixed its
 * request a field per round trip. A single failure is thrown as it is (its own code, e.g.
 * `invalid_filter`); several become one `validation_failed` with all their `errors`.
 */
export function checkTogether<T extends unknown[]>(...checks: { [K in keyof T]: () => T[K] }): T {
  const failures: HeraldException[] = [];
  const results = checks.map((check) => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof HeraldException)) throw error;
      failures.push(error);
      return undefined;
    }
  });
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1) {
    throw HeraldException.validation(
      failures.map((failure) => failure.detail).join(' '),
      failures.flatMap((failure) => failure.errors),
    );
  }
  return results as T;
}
