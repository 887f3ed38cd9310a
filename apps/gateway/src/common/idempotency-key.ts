import { HeraldException } from './errors/herald-exception.js';

/** An `Idempotency-Key` header as given (undefined when absent), or a 400 when it is not 1 to 255 characters. */
export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key !== undefined && (key.length === 0 || key.length > 255)) {
    throw HeraldException.validation('Idempotency-Key must be 1 to 255 characters.', [
      { field: 'Idempotency-Key', message: 'must be 1 to 255 characters' },
    ]);
  }
  return key;
}
