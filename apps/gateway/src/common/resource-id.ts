import { Injectable, Param, type PipeTransform } from '@nestjs/common';
import { ErrorCode } from './errors/error-code.js';
import { HeraldException } from './errors/herald-exception.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every Herald id (events, keys, sources, endpoints, deliveries) is a UUID. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/**
 * A path id that is not a UUID names nothing: 404, before any query sees it. A UUID comes out in lower
 * case, as Postgres spells it, so ids compare and cache as one string whatever the client sent.
 */
@Injectable()
export class ResourceIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw new HeraldException(ErrorCode.NotFound, `Nothing has the id "${value}".`);
    return value.toLowerCase();
  }
}

/** `@ResourceId()` reads and checks the `:id` path parameter. */
export const ResourceId = (name = 'id') => Param(name, ResourceIdPipe);
