import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { generateSecret, SECRET_PREFIX, typePatternError, typePatternToRegex } from '@herald/events';
import { v7 as uuidv7 } from 'uuid';
import { checkTogether } from '../common/errors/check-together.js';
import { checkIdempotencyKey } from '../common/idempotency-key.js';
import { rangeBound } from '../common/instant.js';
import { MAX_OVERLAP_SECONDS } from '../common/overlap-seconds.js';
import { EventsService } from '../events/events.service.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException, type ProblemFieldError } from '../common/errors/herald-exception.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { DeliveryRepository } from './deliveries/delivery.repository.js';
import {
  type CreateEndpointDto,
  type EndpointDto,
  type EndpointFilterDto,
  type EndpointWithSecretDto,
  mapEndpoint,
  mapEndpointWithSecret,
  type ReplayEndpointDto,
  type ReplayResultDto,
  type RotateSecretDto,
  type UpdateEndpointDto,
} from './endpoint.dto.js';
import type { EndpointEntity } from './endpoint.entity.js';
import { EndpointRepository, type NewEndpoint } from './endpoint.repository.js';
import { mergeEndpointHeaders } from './endpoint-headers.js';
import { parseEndpointUrl } from './endpoint-url.js';

/**
 * Retired secrets kept at most (each is one more signature on every webhook): a ninth rotation within
 * 24 h ends the overlap of the oldest early.
 */
const MAX_RETIRED_SECRETS = 8;

/** Type patterns → their regexes, or a 400 naming each bad pattern. */
export function compileTypePatterns(types: readonly string[], field: string): string[] {
  const errors: ProblemFieldError[] = types.flatMap((pattern, index) => {
    const message = typePatternError(pattern);
    return message ? [{ field: `${field}.${index}`, message }] : [];
  });
  if (errors.length > 0)
    throw new HeraldException(ErrorCode.InvalidFilter, 'The type filter is not valid.', errors);
  return types.map(typePatternToRegex);
}

@Injectable()
export class EndpointsService {
  constructor(
    private readonly repository: EndpointRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly events: EventsService,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
  ) {}

  /**
   * A new endpoint; with an `Idempotency-Key` used before, the endpoint that request made (`created`
   * false), or a 409 when this request differs from that one.
   */
  async create(
    dto: CreateEndpointDto,
    idempotencyKey?: string,
  ): Promise<{ endpoint: EndpointWithSecretDto; created: boolean }> {
    checkIdempotencyKey(idempotencyKey);
    const [url, filter, secret, headers] = checkTogether(
      () => this.checkUrl(dto.url),
      () => this.filterColumns(dto.filter),
      () => (dto.secret === undefined ? generateSecret() : checkSecret(dto.secret)),
      () => mergeEndpointHeaders({}, dto.headers ?? {}, false),
    );
    // The request as given, in a fixed order (a retry sends the same), kept only with its key.
    const requestDigest =
      idempotencyKey === undefined
        ? null
        : createHash('sha256')
            .update(
              JSON.stringify([
                dto.url,
                dto.description,
                dto.filter?.types,
                dto.filter?.sources,
                dto.enabled,
                dto.secret,
                dto.headers,
                dto.rateLimit,
              ]),
            )
            .digest('hex');
    const { endpoint, created } = await this.repository.insert({
      id: uuidv7(),
      url,
      description: dto.description ?? '',
      ...filter,
      enabled: dto.enabled ?? true,
      disabledReason: null,
      secret,
      retiredSecrets: [],
      headers,
      rateLimit: dto.rateLimit ?? null,
      failingSince: null,
      disableReportDueAt: null,
      idempotencyKey: idempotencyKey ?? null,
      requestDigest,
    });
    if (!created && endpoint.requestDigest !== requestDigest) {
      throw new HeraldException(
        ErrorCode.IdempotencyConflict,
        `Idempotency-Key "${idempotencyKey}" was already used to create a different endpoint (${endpoint.id}).`,
      );
    }
    return { endpoint: mapEndpointWithSecret(endpoint), created };
  }

  async list(limit = DEFAULT_PAGE_SIZE, cursor?: string): Promise<Page<EndpointDto>> {
    const after = cursor === undefined ? undefined : decodeCursor({ kind: 'endpoints' }, cursor);
    const rows = await this.repository.page(after, limit + 1);
    return toPage(
      rows,
      limit,
      (e) => mapEndpoint(e),
      (e) => e.id,
      { kind: 'endpoints' },
    );
  }

  async get(id: string): Promise<EndpointDto> {
    return mapEndpoint(await this.load(id));
  }

  async update(id: string, dto: UpdateEndpointDto): Promise<EndpointDto> {
    const [url, filter] = checkTogether(
      () => (dto.url === undefined ? undefined : this.checkUrl(dto.url)),
      () => (dto.filter === undefined ? undefined : this.filterColumns(dto.filter)),
      // Each entry checked with the rest of the body; the count only against the stored headers, below.
      () => dto.headers !== undefined && mergeEndpointHeaders({}, dto.headers, true),
    );
    const changes: Partial<NewEndpoint> = { ...filter };
    if (url !== undefined) changes.url = url;
    if (dto.description !== undefined) changes.description = dto.description;
    if (dto.rateLimit !== undefined) changes.rateLimit = dto.rateLimit;
    return mapEndpoint(
      await this.write(id, (endpoint) => {
        // Failures at the old address say nothing of the new one.
        const moved = url !== undefined && url !== endpoint.url ? { failingSince: null } : {};
        // Merged into the headers as they are under the row lock, so concurrent patches each keep theirs.
        const headers =
          dto.headers === undefined
            ? {}
            : { headers: mergeEndpointHeaders(endpoint.headers, dto.headers, true) };
        if (dto.enabled === undefined || dto.enabled === endpoint.enabled)
          return { ...changes, ...moved, ...headers };
        return {
          ...changes,
          ...headers,
          enabled: dto.enabled,
          disabledReason: dto.enabled ? null : 'disabled by an operator',
          failingSince: null,
          // The operator has taken the endpoint in hand: a disabling not yet reported is no news to them.
          disableReportDueAt: null,
        };
      }),
    );
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repository.delete(id))) throw HeraldException.notFound('Endpoint', id);
  }

  /**
   * A new secret; the current one keeps signing (as another signature) for `previousValidForSeconds`
   * (a day when absent), and so do those earlier rotations retired, within theirs and never longer.
   */
  async rotateSecret(id: string, dto: RotateSecretDto): Promise<EndpointWithSecretDto> {
    const chosen = dto.secret === undefined ? undefined : checkSecret(dto.secret);
    const rotated = await this.write(id, (endpoint) => {
      if (
        chosen === endpoint.secret ||
        endpoint.retiredSecrets.some((retired) => retired.secret === chosen)
      ) {
        throw HeraldException.validation(
          'The new secret is the current one or a retired one; a rotation needs another.',
          [{ field: 'secret', message: 'must differ from the current and the retired secrets' }],
        );
      }
      const now = Date.now();
      // No secret before the new one signs past the overlap asked for (a day unless told otherwise, so
      // receivers can switch without a gap): after a leak, none at all.
      const until = now + (dto.previousValidForSeconds ?? MAX_OVERLAP_SECONDS) * 1000;
      const retiredSecrets = [
        { secret: endpoint.secret, expiresAt: new Date(until).toISOString() },
        ...endpoint.retiredSecrets.map((retired) => ({
          ...retired,
          expiresAt: new Date(Math.min(Date.parse(retired.expiresAt), until)).toISOString(),
        })),
      ]
        .filter((retired) => Date.parse(retired.expiresAt) > now)
        .slice(0, MAX_RETIRED_SECRETS);
      return { secret: chosen ?? generateSecret(), retiredSecrets };
    });
    return mapEndpointWithSecret(rotated);
  }

  async replay(id: string, dto: ReplayEndpointDto): Promise<ReplayResultDto> {
    const endpoint = await this.load(id);
    const since = dto.since === undefined ? null : rangeBound(dto.since);
    // A time window ends now unless told otherwise; a replay by seq alone has no time bound at all (an
    // event may carry a `time` of the publisher's, ahead of the clock).
    const until = dto.until ? rangeBound(dto.until) : since ? new Date() : null;
    if (since && until && until <= since) throw HeraldException.emptyTimeRange();
    const regexes = compileTypePatterns(dto.types ?? [], 'types');
    const afterSeq = (await this.events.resolveAfter(dto.after)) ?? null;
    const queued = await this.deliveries.replay(endpoint.id, {
      since,
      until,
      afterSeq,
      typeRegexes: regexes,
      missedOnly: dto.missedOnly ?? false,
    });
    return { deliveries: queued };
  }

  /** Writes what `change` makes of the endpoint as it is (see `EndpointRepository.update`); a 404 when it is gone. */
  private async write(
    id: string,
    change: (current: EndpointEntity) => Partial<NewEndpoint>,
  ): Promise<EndpointEntity> {
    const written = await this.repository.update(id, change);
    if (!written) throw HeraldException.notFound('Endpoint', id);
    return written;
  }

  /** The endpoint or a 404 (shared with the deliveries routes under /v1/endpoints/:id). */
  async load(id: string): Promise<EndpointEntity> {
    const endpoint = await this.repository.findById(id);
    if (!endpoint) throw HeraldException.notFound('Endpoint', id);
    return endpoint;
  }

  private checkUrl(text: string): string {
    const url = parseEndpointUrl(text, this.config.allowPrivateTargets);
    if (url.error !== undefined) {
      throw HeraldException.validation(`The endpoint URL ${url.error}.`, [
        { field: 'url', message: url.error },
      ]);
    }
    return url.href;
  }

  private filterColumns(filter: EndpointFilterDto | undefined) {
    const types = filter?.types ?? [];
    return {
      filterTypes: types,
      typesRegex: compileTypePatterns(types, 'filter.types'),
      sources: [...new Set(filter?.sources ?? [])],
    };
  }
}

/**
 * `whsec_` and canonical base64 of 24 to 64 bytes. Canonical (padded, no whitespace, standard alphabet,
 * what re-encoding the bytes gives): stock verifiers refuse anything looser, and a claim reads the
 * retired secrets as one space-separated text.
 */
function checkSecret(secret: string): string {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : '';
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.toString('base64') !== encoded || bytes.length < 24 || bytes.length > 64) {
    throw HeraldException.validation('The secret must be whsec_ followed by 24 to 64 base64 bytes.', [
      { field: 'secret', message: 'must be whsec_<base64 of 24 to 64 bytes>' },
    ]);
  }
  return secret;
}
