import { fetchBaseToken, type BaseToken } from './base-token-client.js';
import type { SeatableServerAccess } from './config.js';

/**
 * Base tokens for one-off REST calls (toasts), reused while valid: the exchange endpoint is rate
 * limited (60/min on SeaTable Cloud) and a token lasts 3 days.
 */
export class BaseTokenCache {
  private readonly tokens = new Map<string, BaseToken>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly marginMs = 5 * 60 * 1000,
  ) {}

  async get(access: SeatableServerAccess): Promise<BaseToken> {
    const key = cacheKey(access);
    const cached = this.tokens.get(key);
    if (cached && this.now() < cached.expiresAt - this.marginMs) return cached;
    const token = await fetchBaseToken(access, { now: this.now() });
    this.tokens.set(key, token);
    return token;
  }

  /** Drops a token SeaTable no longer accepts. */
  forget(access: SeatableServerAccess): void {
    this.tokens.delete(cacheKey(access));
  }
}

function cacheKey({ serverUrl, apiToken }: SeatableServerAccess): string {
  return `${serverUrl}\n${apiToken}`;
}
