import { hashToken, newToken, tokenPrefix } from '../common/bearer-token.js';
import { applyMergePatch } from '../common/json-merge-patch.js';
import { isUuid } from '../common/resource-id.js';
import { timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Inject, Injectable } from '@nestjs/common';
import type { ProviderAdapter, SourceMode } from '@herald/events';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { v7 as uuidv7 } from 'uuid';
import { AdapterRegistry } from '../adapters/adapter-registry.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import type {
  CreateSourceDto,
  RotateIngestTokenDto,
  SourceDto,
  SourceStatusDto,
  UpdateSourceDto,
} from './source.dto.js';
import type { SourceEntity } from './source.entity.js';
import { SourceCatalog } from './source-catalog.js';
import { type SourceChanges, SourceRepository } from './source.repository.js';

const INGEST_TOKEN_PREFIX = 'hing_';

@Injectable()
export class SourcesService {
  constructor(
    private readonly repository: SourceRepository,
    private readonly catalog: SourceCatalog,
    private readonly adapters: AdapterRegistry,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(SourcesService.name) private readonly logger: PinoLogger,
  ) {}

  async create(dto: CreateSourceDto, origin: string): Promise<SourceDto> {
    const adapter = this.adapterFor(dto.provider);
    if (!adapter.modes.includes(dto.mode)) {
      throw HeraldException.validation(`Provider ${dto.provider} has no ${dto.mode} mode.`, [
        { field: 'mode', message: `must be one of ${adapter.modes.join(', ')}` },
      ]);
    }
    const config = this.parseConfig(adapter, dto.mode, dto.config ?? {});
    const token = dto.mode === 'webhook' ? newToken(INGEST_TOKEN_PREFIX, 24) : undefined;
    const source = await this.repository.insert({
      id: uuidv7(),
      name: dto.name,
      provider: dto.provider,
      mode: dto.mode,
      config,
      enabled: dto.enabled ?? true,
      silentAfterSeconds: dto.silentAfterSeconds ?? null,
      ingestTokenHash: token ? hashToken(token) : null,
      ingestTokenPrefix: token ? tokenPrefix(token) : null,
      previousIngestTokenHash: null,
      previousIngestTokenExpiresAt: null,
    });
    return this.toDto(source, origin, token);
  }

  async list(origin: string, limit = DEFAULT_PAGE_SIZE, cursor?: string): Promise<Page<SourceDto>> {
    const after = cursor === undefined ? undefined : decodeCursor({ kind: 'sources' }, cursor);
    const rows = await this.repository.page(after, limit + 1);
    return toPage(
      rows,
      limit,
      (s) => this.toDto(s, origin),
      (s) => s.id,
      { kind: 'sources' },
    );
  }

  async get(id: string, origin: string): Promise<SourceDto> {
    return this.toDto(await this.load(id), origin);
  }

  async update(id: string, dto: UpdateSourceDto, origin: string): Promise<SourceDto> {
    return this.toDto(await this.write(id, (source) => this.changesOf(source, dto)), origin);
  }

  private changesOf(source: SourceEntity, dto: UpdateSourceDto): SourceChanges {
    const changes: SourceChanges = {};
    if (dto.name !== undefined) changes.name = dto.name;
    if (dto.enabled !== undefined) changes.enabled = dto.enabled;
    if (dto.silentAfterSeconds !== undefined) changes.silentAfterSeconds = dto.silentAfterSeconds;
    if (dto.config !== undefined) {
      // Merged into the stored config, not put in its place: GET never shows the secrets, so a client
      // could not send them back, and a PATCH adding `serverUrl` dropped a webhook's `secret` and with it
      // the signature check.
      const adapter = this.adapterFor(source.provider);
      refuseMaskedSecrets(adapter.redactConfig(source.mode, source.config), source.config, dto.config);
      const config = this.parseConfig(adapter, source.mode, applyMergePatch(source.config, dto.config));
      // Compared as the adapter reads the stored one today: one stored before it normalized a field
      // (Jellyfish's serverUrl) would otherwise look moved, and changed, by a PATCH of anything else.
      const reread = adapter.parseConfig(source.mode, source.config);
      const current = reread.ok ? reread.config : source.config;
      refuseMovedSecrets(adapter.secretsSentTo(source.mode), current, config, dto.config);
      // Unchanged, it is left alone: a new config restarts the source's stream, which may lose events.
      if (!isDeepStrictEqual(config, current)) changes.config = config;
    }
    return changes;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.repository.delete(id))) throw HeraldException.notFound('Source', id);
    this.catalog.invalidate(id);
  }

  /**
   * A new ingest URL. The old one stops working at once, or after `previousValidForSeconds`: time to
   * give the provider the new one before the old is refused. A rotation ends any earlier overlap.
   */
  async rotateIngestToken(id: string, origin: string, dto: RotateIngestTokenDto): Promise<SourceDto> {
    const token = newToken(INGEST_TOKEN_PREFIX, 24);
    const overlapMs = (dto.previousValidForSeconds ?? 0) * 1000;
    const saved = await this.write(id, (source) => {
      if (source.mode !== 'webhook')
        throw HeraldException.validation('Only webhook sources have an ingest URL.');
      return {
        ingestTokenHash: hashToken(token),
        ingestTokenPrefix: tokenPrefix(token),
        previousIngestTokenHash: overlapMs > 0 ? source.ingestTokenHash : null,
        previousIngestTokenExpiresAt: overlapMs > 0 ? new Date(Date.now() + overlapMs) : null,
      };
    });
    return this.toDto(saved, origin, token);
  }

  async status(id: string): Promise<SourceStatusDto> {
    const source = await this.load(id);
    const [state, lastEventAt] = await Promise.all([
      this.repository.findState(id),
      this.repository.lastEventAt(id),
    ]);
    const streamState =
      source.mode === 'stream' ? (source.enabled ? (state?.state ?? 'connecting') : 'stopped') : null;
    return {
      id,
      mode: source.mode,
      state: streamState,
      lastError: state?.lastError ?? null,
      lastEventAt: lastEventAt?.toISOString() ?? null,
      connectedSince: streamState === 'connected' ? (state?.connectedSince?.toISOString() ?? null) : null,
      reconnects: state?.reconnects ?? 0,
      // A stopped stream is held by nobody: the instance that stopped it last is no news.
      heldBy: streamState === null || streamState === 'stopped' ? null : (state?.instanceId ?? null),
    };
  }

  /** Runs a provider action such as SeaTable's `toasts`. */
  async invokeAction(id: string, action: string, input: unknown): Promise<unknown> {
    const source = await this.load(id);
    const actions = this.adapterFor(source.provider).actions ?? {};
    // Own properties only: `constructor` or `valueOf` would otherwise run Object's own.
    const run = Object.hasOwn(actions, action) ? actions[action] : undefined;
    if (typeof run !== 'function') throw HeraldException.notFound(`Action "${action}" on source`, id);
    return run(source.config, input, {
      sourceId: id,
      logger: this.logger.logger.child({ sourceId: id, action }),
    });
  }

  /**
   * The source behind an ingest URL, or an exception for an unknown source, a wrong token or a disabled
   * source. Disabled is said only to whoever has the token, and never as "unknown": a provider's
   * operator must be able to tell a paused source from a deleted one.
   */
  async authenticateIngest(id: string, token: string): Promise<SourceEntity> {
    const source = await this.lookup(id);
    if (!source || source.mode !== 'webhook' || !source.ingestTokenHash) {
      throw HeraldException.notFound('Webhook source', id);
    }
    if (!acceptsIngestToken(source, hashToken(token))) {
      throw new HeraldException(ErrorCode.Unauthorized, 'The ingest token in the URL is wrong.');
    }
    if (!source.enabled) {
      throw new HeraldException(
        ErrorCode.SourceDisabled,
        `Webhook source ${source.id} is disabled; nothing was stored. Enable it to accept its webhooks again.`,
      );
    }
    return source;
  }

  /** The source an ingest URL names, whatever its state, or null; from the ingest cache. */
  async lookup(id: string): Promise<SourceEntity | null> {
    return isUuid(id) ? this.catalog.find(id) : null;
  }

  /**
   * Writes the changes `change` makes of the source as it is (see `SourceRepository.update`) and drops
   * the ingest cache's copy; a 404 when the source is gone.
   */
  private async write(id: string, change: (current: SourceEntity) => SourceChanges): Promise<SourceEntity> {
    const written = await this.repository.update(id, change);
    this.catalog.invalidate(id);
    if (!written) throw HeraldException.notFound('Source', id);
    return written;
  }

  private async load(id: string): Promise<SourceEntity> {
    const source = await this.repository.findById(id);
    if (!source) throw HeraldException.notFound('Source', id);
    return source;
  }

  private adapterFor(provider: string): ProviderAdapter {
    const adapter = this.adapters.find(provider);
    if (!adapter) {
      throw HeraldException.validation(`Herald has no adapter for provider "${provider}".`, [
        { field: 'provider', message: `must be one of ${this.adapters.providers.join(', ')}` },
      ]);
    }
    return adapter;
  }

  private parseConfig(adapter: ProviderAdapter, mode: SourceMode, config: unknown): Record<string, unknown> {
    const check = adapter.parseConfig(mode, config);
    if (!check.ok) {
      throw HeraldException.validation(
        `The ${adapter.provider} ${mode} config is not valid.`,
        check.errors.map(({ field, message }) => ({ field: field ? `config.${field}` : 'config', message })),
      );
    }
    return check.config;
  }

  private toDto(source: SourceEntity, origin: string, fullToken?: string): SourceDto {
    const dto: SourceDto = {
      id: source.id,
      name: source.name,
      provider: source.provider,
      mode: source.mode,
      config: this.adapterFor(source.provider).redactConfig(source.mode, source.config),
      enabled: source.enabled,
      silentAfterSeconds: source.silentAfterSeconds,
      createdAt: source.createdAt.toISOString(),
      updatedAt: source.updatedAt.toISOString(),
    };
    if (source.mode === 'webhook') {
      dto.ingestUrl = `${this.config.publicUrl ?? origin}/v1/ingest/${source.id}/${fullToken ?? `${source.ingestTokenPrefix}****`}`;
    }
    return dto;
  }
}

/**
 * A change of where secrets are sent (`serverUrl`) must give those secrets again (see
 * `ProviderAdapter.secretsSentTo`); refused naming each one left out.
 */
function refuseMovedSecrets(
  bindings: ReadonlyArray<{ field: string; secrets: readonly string[] }>,
  stored: Record<string, unknown>,
  merged: Record<string, unknown>,
  patch: Record<string, unknown>,
): void {
  const missing = bindings.flatMap(({ field, secrets }) =>
    merged[field] === undefined || merged[field] === stored[field]
      ? []
      : secrets
          .filter((secret) => merged[secret] !== undefined && typeof patch[secret] !== 'string')
          .map((secret) => ({
            field: `config.${secret}`,
            message: `must be given again when config.${field} changes: the stored one is not sent to another server`,
          })),
  );
  if (missing.length > 0) {
    throw HeraldException.validation('The config moves a secret to another server.', missing);
  }
}

/**
 * A secret sent back as GET shows it (`abcd****`, from a client that PATCHes the whole config it read)
 * would replace the secret with its mask: refused, naming each.
 */
function refuseMaskedSecrets(
  shown: Record<string, unknown>,
  stored: Record<string, unknown>,
  patch: Record<string, unknown>,
): void {
  const masked = Object.keys(patch)
    .filter((key) => shown[key] !== stored[key] && patch[key] === shown[key])
    .map((key) => ({
      field: `config.${key}`,
      message: 'is the masked value GET shows: give the secret itself, or leave it out to keep it',
    }));
  if (masked.length > 0) throw HeraldException.validation('The config sends back a masked secret.', masked);
}

/** The current token, or the one a rotation replaced while its overlap lasts. */
function acceptsIngestToken(source: SourceEntity, hash: Buffer): boolean {
  if (source.ingestTokenHash && timingSafeEqual(hash, source.ingestTokenHash)) return true;
  const previous = source.previousIngestTokenHash;
  const until = source.previousIngestTokenExpiresAt;
  return (
    previous !== null && until !== null && until.getTime() > Date.now() && timingSafeEqual(hash, previous)
  );
}
