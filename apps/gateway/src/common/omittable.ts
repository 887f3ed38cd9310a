import { ValidateIf } from 'class-validator';

/**
 * A body field that may be left out, but whose `null` is validated like any other value.
 * class-validator's `@IsOptional()` skips `null` too, which let `{"url": null}` through to the
 * services (a TypeError, or a NOT NULL violation, answered 500) where a field has no null meaning.
 */
export const IsOmittable = (): PropertyDecorator => ValidateIf((_object, value) => value !== undefined);
