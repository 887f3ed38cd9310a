import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { ProviderAdapter } from '@herald/events';
import { AdapterRegistry, PROVIDER_ADAPTERS } from './adapter-registry.js';

@Global()
@Module({})
export class AdaptersModule {
  static forRoot(adapters: readonly ProviderAdapter[] = PROVIDER_ADAPTERS): DynamicModule {
    return {
      module: AdaptersModule,
      providers: [{ provide: AdapterRegistry, useValue: new AdapterRegistry(adapters) }],
      exports: [AdapterRegistry],
    };
  }
}
