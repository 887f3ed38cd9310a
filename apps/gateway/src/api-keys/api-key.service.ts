import { hashToken, newToken, tokenPrefix } from '../common/bearer-token.js';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { v7 as uuidv7 } from 'uuid';
import type { Principal, Scope } from '../common/auth/scope.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { HeraldException } from '../common/errors/herald-exception.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import { HERALD_CONFIG, type HeraldConfig } from '../config/herald-config.js';
import { ClusterBus } from '../cluster/cluster-bus.js';
import { type ApiKeyDto, type CreatedApiKeyDto, type CreateApiKeyDto, mapApiKey } from './api-key.dto.js';
import { ApiKeyRepository } from './api-key.repository.js';

const TOKEN_PREFIX = 'hrld_';
/** How long a verified key is trusted without a database read; deletions on this instance apply at once. */
const CACHE_TTL_MS = 5_000;
const CACHE_LIMIT = 10_000;

@Injectable()
export class ApiKeyService implements OnModuleInit, OnApplicationBootstrap {
  private readonly cache = new Map<string, { principal: Principal | null; expiresAt: number }>();
  /** The admin key this start generated, until it is printed or withdrawn (see `announceGeneratedKey`). */
  private generated: { id: string; token: string } | undefined;

  constructor(
    private readonly repository: ApiKeyRepository,
    private readonly bus: ClusterBus,
    @Inject(HERALD_CONFIG) private readonly config: HeraldConfig,
    @InjectPinoLogger(ApiKeyService.name) private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.bus.onApiKeyRevoked((keyId) => this.forget(keyId));
  }

  /**
   * First start (an empty key table): install HERALD_ADMIN_TOKEN, or generate a key, which the start
   * prints once it listens (`announceGeneratedKey`). Later, HERALD_ADMIN_TOKEN is also the way back in
   * when no admin key exists any more.
   */
  async onApplicationBootstrap(): Promise<void> {
    const configured = this.config.adminToken;
    const token = configured ?? newToken(TOKEN_PREFIX, 32);
    const id = uuidv7();
    const { inserted, state } = await this.repository.insertAdminIf(
      {
        id,
        name: 'bootstrap-admin',
        scopes: ['admin'],
        tokenHash: hashToken(token),
        tokenPrefix: tokenPrefix(token),
      },
      (table) => (configured ? !table.anyAdmin && !table.tokenKnown : !table.anyKey),
    );
    if (inserted && !configured) {
      this.generated = { id, token };
    } else if (inserted) {
      this.logger.info(
        state.anyKey
          ? 'no admin API key existed: installed one from HERALD_ADMIN_TOKEN'
          : 'bootstrap admin API key installed from HERALD_ADMIN_TOKEN',
      );
    } else if (!state.anyAdmin) {
      this.logger.warn(
        configured
          ? 'no admin API key exists, and HERALD_ADMIN_TOKEN is the token of a key without the admin scope: set another token and restart'
          : 'no admin API key exists: set HERALD_ADMIN_TOKEN and restart to install one',
      );
    } else if (configured && !state.tokenKnown) {
      this.logger.warn(
        'HERALD_ADMIN_TOKEN is ignored: admin API keys exist, and it only installs one when none does',
      );
    }
  }

  /** Prints the admin key this start generated, once Herald listens: the operator can use it at once. */
  announceGeneratedKey(): void {
    if (!this.generated) return;
    this.logger.warn('generated a bootstrap admin API key; it is printed once on stdout');
    process.stdout.write(`\nHerald admin API key (shown once, store it now): ${this.generated.token}\n\n`);
    this.generated = undefined;
  }

  /**
   * The start failed before it listened (a port in use): the generated key goes, unprinted, so the next
   * start generates and prints one. Printed before the failure, it would scroll by above the error and
   * be lost, locking the operator out.
   */
  async withdrawGeneratedKey(): Promise<void> {
    if (!this.generated) return;
    try {
      await this.repository.delete(this.generated.id);
      this.generated = undefined;
    } catch (error) {
      // Kept (the database went away, say): printed after all, since no later start would print it, and
      // HERALD_ADMIN_TOKEN installs a key only where no admin key exists.
      this.logger.warn({ err: error }, 'could not withdraw the generated admin API key; it stays valid');
      this.announceGeneratedKey();
    }
  }

  async create(dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const token = newToken(TOKEN_PREFIX, 32);
    const key = await this.repository.insert({
      id: uuidv7(),
      name: dto.name,
      scopes: [...new Set(dto.scopes)],
      tokenHash: hashToken(token),
      tokenPrefix: tokenPrefix(token),
    });
    return { ...mapApiKey(key), token };
  }

  async list(limit = DEFAULT_PAGE_SIZE, cursor?: string): Promise<Page<ApiKeyDto>> {
    const after = cursor === undefined ? undefined : decodeCursor({ kind: 'api-keys' }, cursor);
    const rows = await this.repository.page(after, limit + 1);
    return toPage(rows, limit, mapApiKey, (k) => k.id, { kind: 'api-keys' });
  }

  /** Deletes a key; every instance forgets it and cuts off its sockets (through the cluster bus). */
  async delete(id: string): Promise<void> {
    const outcome = await this.repository.deleteUnlessLastAdmin(id);
    if (outcome === 'missing') throw HeraldException.notFound('API key', id);
    if (outcome === 'last_admin') {
      throw new HeraldException(
        ErrorCode.LastAdminKey,
        `API key ${id} is the last key with the admin scope; create another admin key before deleting it.`,
      );
    }
    await this.bus.announceRevocation(id);
  }

  /** The keys among `keyIds` that have been deleted (revoked). */
  async revokedAmong(keyIds: readonly string[]): Promise<string[]> {
    const existing = await this.repository.existing(keyIds);
    return keyIds.filter((id) => !existing.has(id));
  }

  private forget(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.principal?.keyId === keyId) this.cache.delete(hash);
  }

  /** The principal for a bearer token, or null when no such key exists. */
  async authenticate(token: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const cacheKey = hash.toString('base64');
    const cached = this.cache.get(cacheKey);
    if (cached && cached.expiresAt > Date.now()) return cached.principal;
    const key = await this.repository.findByHash(hash);
    const principal = key ? { keyId: key.id, name: key.name, scopes: key.scopes as Scope[] } : null;
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(cacheKey, { principal, expiresAt: Date.now() + CACHE_TTL_MS });
    return principal;
  }
}
