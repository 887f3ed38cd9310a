import { Injectable } from '@nestjs/common';
import type { ProviderAdapter } from '@herald/events';
import { jellyfishAdapter } from '@herald/jellyfish';
import { seatableAdapter } from '@herald/seatable';

/** The one place the gateway names providers; everything else goes through `ProviderAdapter`. */
export const PROVIDER_ADAPTERS: readonly ProviderAdapter[] = [seatableAdapter, jellyfishAdapter];

@Injectable()
export class AdapterRegistry {
  private readonly byProvider: ReadonlyMap<string, ProviderAdapter>;

  constructor(adapters: readonly ProviderAdapter[]) {
    this.byProvider = new Map(adapters.map((adapter) => [adapter.provider, adapter]));
  }

  get providers(): string[] {
    return [...this.byProvider.keys()];
  }

  get all(): ProviderAdapter[] {
    return [...this.byProvider.values()];
  }

  find(provider: string): ProviderAdapter | undefined {
    return this.byProvider.get(provider);
  }

  get(provider: string): ProviderAdapter {
    const adapter = this.byProvider.get(provider);
    if (!adapter) throw new Error(`no adapter for provider ${provider}`);
    return adapter;
  }
}
